# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The README as a new user reads it: its code fences balance (an unclosed one renders the rest
as code), and every `qhtrace COMMAND --help` or `qhtrace help COMMAND` it mentions works.

Run: /usr/bin/python3 -m pytest tests/e2e/test_readme.py (no root needed).
"""

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def fences(text):
    """(line number, fence) of each line opening or closing a fenced code block."""
    return [(i + 1, m.group(1)) for i, line in enumerate(text.splitlines())
            if (m := re.match(r"^\s*(`{3,}|~{3,})", line))]


def test_fences_balance():
    text = README.read_text()
    open_at = None
    for lineno, fence in fences(text):
        if open_at is None:
            open_at = (lineno, fence)
        elif fence.startswith(open_at[1][0]) and len(fence) >= len(open_at[1]):
            open_at = None
    assert open_at is None, f"README.md:{open_at[0]} opens a code fence that is never closed"


def test_fence_checker_catches_an_open_fence():
    """The check above is not vacuous: an unclosed fence is found."""
    assert len(fences("a\n```sh\nx\n```\n```\ny\n")) % 2 == 1


def mentioned_help(text):
    cmds = set(re.findall(r"qhtrace ([a-z][a-z-]*) (?:[^`\n]*? )?--help\b", text))
    cmds |= set(re.findall(r"qhtrace help ([a-z][a-z-]*)", text))
    return sorted(cmds)


def test_mentioned_help_exists(qh):
    text = README.read_text()
    # the commands the usage block lists, at least
    cmds = set(mentioned_help(text)) | set(re.findall(r"^qhtrace ([a-z]+) [\[-]", text, re.M))
    assert {"attach", "leaks", "fds", "report"} <= cmds, cmds
    for cmd in sorted(cmds):
        for argv in ([cmd, "--help"], ["help", cmd]):
            out = subprocess.run([qh.qhtrace, *argv], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, (argv, out.stderr)
            assert out.stdout.startswith(f"Usage: qhtrace {cmd}"), (argv, out.stdout[:200])


def test_help_of_unknown_command(qh):
    out = subprocess.run([qh.qhtrace, "help", "nosuch"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "unknown command 'nosuch'" in out.stderr, out
