# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end: heap stacks reach the program's own frame through libraries built without frame
pointers (glibc's strdup and posix_memalign, libstdc++'s operator new), with the program built
with and without them; symbols are never missing, inlined functions are named, C++ names are
demangled.

Run: /usr/bin/python3 -m pytest tests/e2e/test_stacks.py
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def marker_line(src, marker):
    """The line of tests/fixtures/SRC that carries `marker` (a comment on the call)."""
    path = REPO / "tests" / "fixtures" / src
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if marker in line and not line.lstrip().startswith("*"):
                return n
    raise AssertionError(f"{marker} not found in {path}")


def heap_report(qh, tmp_path, args):
    rc, report, err = qh.run_attach(args, tmp_path / "report.json", opts=("-q", "--heap"))
    assert rc == 0, f"qhtrace exited {rc}; stderr:\n{err}"
    assert report is not None, err
    return report


def first_program_frame(leak, module):
    """The first frame in `module` (the program), and the frames before it."""
    for i, f in enumerate(leak["stack"]):
        if f["module"] == module:
            return f, leak["stack"][:i]
    raise AssertionError(f"no frame in {module}: {leak}")


def leak_of_size(report, size):
    found = [l for l in report["leaks"]["heap"] if l["bytes"] == size]
    assert len(found) == 1, report["leaks"]["heap"]
    return found[0]


# (program, mode, bytes of the leak, function, source, marker)
CASES = [
    ("stackc", "strdup", 19, "dup_name", "stackc.c", "STK_STRDUP"),
    ("stackc", "memalign", 100, "aligned_block", "stackc.c", "STK_MEMALIGN"),
    ("stackc", "aligned", 256, "aligned_c11", "stackc.c", "STK_ALIGNED"),
    ("stackc", "thread", 128, "worker", "stackc.c", "STK_THREAD"),
    ("stackc", "quick", 2664, "main", "stackc.c", "STK_QUICK"),
    ("stackcpp", "new", 100, "via_new()", "stackcpp.cc", "STK_NEW"),
    ("stackcpp", "ctor", 48, "Widget::Widget()", "stackcpp.cc", "STK_CTOR"),
    ("stackcpp", "array", 3 * 32 + 8, "make_nodes()", "stackcpp.cc", "STK_ARRAY"),
]


@pytest.mark.parametrize("build", ["", "_fp"])
@pytest.mark.parametrize("prog,mode,size,func,src,marker", CASES)
def test_first_program_frame(qh, tmp_path, build, prog, mode, size, func, src, marker):
    """The program's function and line are the first frame in the program, whether the
    library between it and malloc has frame pointers or not, and whether it has them."""
    exe = str(qh.fx(prog + build))
    report = heap_report(qh, tmp_path, [exe, mode])
    leak = leak_of_size(report, size)
    f, before = first_program_frame(leak, exe)
    assert (f["symbol"], f["line"]) == (func, marker_line(src, marker)), leak
    assert f["file"].endswith(src), leak
    # what lies between is the libraries', every frame named
    assert all(b["module"] and b["symbol"] for b in before), leak


@pytest.mark.parametrize("build", ["", "_fp"])
def test_inlined_function_named(qh, tmp_path, build):
    """remember_request(), inlined into handle(), is a frame of its own: inlined, at the
    malloc's line, then handle() at the line of the inlined call."""
    exe = str(qh.fx("stackc" + build))
    report = heap_report(qh, tmp_path, [exe, "inline"])
    leak = leak_of_size(report, 67)
    f, _ = first_program_frame(leak, exe)
    i = leak["stack"].index(f)
    inl, outer = leak["stack"][i], leak["stack"][i + 1]
    assert (inl["symbol"], inl["line"], inl.get("inlined")) == \
        ("remember_request", marker_line("stackc.c", "STK_INLINE"), True), leak
    assert (outer["symbol"], outer["line"], outer.get("inlined", False)) == \
        ("handle", marker_line("stackc.c", "STK_HANDLE"), False), leak
    assert outer["address"] == inl["address"], leak


@pytest.mark.parametrize("build", ["", "_fp"])
def test_cxx_names_demangled(qh, tmp_path, build):
    """A constructor called from main: Widget::Widget() in the report, its mangled name kept
    beside it; the Widget itself is main's leak at its line."""
    exe = str(qh.fx("stackcpp" + build))
    report = heap_report(qh, tmp_path, [exe, "ctor"])
    ctor, _ = first_program_frame(leak_of_size(report, 48), exe)
    assert ctor["symbol"] == "Widget::Widget()", ctor
    assert ctor["raw_symbol"].startswith("_ZN6WidgetC"), ctor
    widget, _ = first_program_frame(leak_of_size(report, 8), exe)
    assert (widget["symbol"], widget["line"]) == \
        ("main", marker_line("stackcpp.cc", "STK_WIDGET")), widget
    assert "raw_symbol" not in widget, widget
    new = leak_of_size(report, 48)["stack"][0]
    assert new["symbol"] == "operator new(unsigned long)" and new["raw_symbol"] == "_Znwm", new
    # unwound by libstdc++'s table to _start: on overlayfs too (the kernel matrix's guests),
    # where /proc shows another inode than the one the walk reads
    assert not leak_of_size(report, 48)["truncated"], leak_of_size(report, 48)


@pytest.mark.parametrize("build", ["", "_fp"])
def test_vector_growth(qh, tmp_path, build):
    """std::vector's last buffer: the template code instantiated in the program, then
    grow_vector() at the push_back."""
    exe = str(qh.fx("stackcpp" + build))
    report = heap_report(qh, tmp_path, [exe, "vector"])
    leak = leak_of_size(report, 1024)
    mine = [f for f in leak["stack"] if f["file"] and f["file"].endswith("stackcpp.cc")]
    assert mine, leak
    assert (mine[0]["symbol"], mine[0]["line"]) == \
        ("grow_vector()", marker_line("stackcpp.cc", "STK_VECTOR")), leak
    upto = leak["stack"][:leak["stack"].index(mine[0])]
    assert all(f["module"] and f["symbol"] for f in upto), leak


@pytest.mark.parametrize("build", ["", "_fp"])
def test_relative_path_short_lived_50_runs(qh, tmp_path, build):
    """50 processes of about a millisecond each, started by a relative path from sh -c: every
    frame of every leak resolved, main at its line first."""
    prog = "stackc" + build
    fixtures = os.path.dirname(qh.fx(prog))
    script = f'cd "{fixtures}" && i=0; while [ $i -lt 50 ]; do ./{prog} quick; i=$((i+1)); done'
    report = heap_report(qh, tmp_path, ["/bin/sh", "-c", script])
    leaks = [l for l in report["leaks"]["heap"] if l["bytes"] == 2664]
    assert len(leaks) == 50, report["leaks"]["heap"]
    assert len({l["pid"] for l in leaks}) == 50
    line = marker_line("stackc.c", "STK_QUICK")
    for l in leaks:
        assert all(f["module"] and f["symbol"] for f in l["stack"]), l
        assert (l["stack"][0]["symbol"], l["stack"][0]["line"]) == ("main", line), l
        assert l["stack"][0]["module"].endswith("/" + prog), l


def plugin_leak_frames(leak, exe, plugin):
    """The stack of the plugin's leak: plugin_store and plugin_leak in the plugin at their
    lines, then use_plugin() in the program at the call, every frame named."""
    st = leak["stack"]
    assert [(f["module"], f["symbol"], f["line"]) for f in st[:3]] == [
        (plugin, "plugin_store", marker_line("plugin/stkplug.c", "STK_PLUGIN_MALLOC")),
        (plugin, "plugin_leak", marker_line("plugin/stkplug.c", "STK_PLUGIN_LEAK")),
        (exe, "use_plugin", marker_line("stackc.c", "STK_PLUGIN_CALL")),
    ], leak
    assert st[3]["symbol"] == "main" and st[3]["module"] == exe, leak
    assert all(f["module"] and f["symbol"] for f in st), leak
    assert not leak["truncated"], leak


@pytest.mark.parametrize("build", ["", "_fp"])
def test_dlclosed_library_named(qh, tmp_path, build):
    """A library dlopen'd, leaking, and dlclose'd before the process ends: unmapped before
    /proc is read at the end, its frames are named all the same (the kernel tells the loader
    of the mapping, with the file's path), and the walk reaches the program through it even
    built without frame pointers (its table did not exist yet when it leaked: the stack there
    was kept and unwound once it did)."""
    exe = str(qh.fx("stackc" + build))
    plugin = str(qh.fx(f"libstkplug{build}.so"))
    report = heap_report(qh, tmp_path, [exe, "dlopen", plugin])
    plugin_leak_frames(leak_of_size(report, 777), exe, plugin)


@pytest.mark.parametrize("build", ["", "_fp"])
def test_library_leak_short_lived_50_runs(qh, tmp_path, build):
    """The unresolved-frame case 50 times: processes of about a millisecond, started by a
    relative path from sh -c, each leaking in a library it dlopen's and dlclose's. Every frame
    of every leak has its module and symbol, every time."""
    prog = "stackc" + build
    lib = f"libstkplug{build}.so"
    fixtures = os.path.dirname(qh.fx(prog))
    script = (f'cd "{fixtures}" && i=0; while [ $i -lt 50 ]; do ./{prog} dlopen ./{lib} || exit 1;'
              ' i=$((i+1)); done')
    report = heap_report(qh, tmp_path, ["/bin/sh", "-c", script])
    mine = [l for l in report["leaks"]["heap"] if l["comm"] == prog]
    leaks = [l for l in mine if l["bytes"] == 777]
    # one finding per process: the leaks of several processes are never merged
    assert len({l["pid"] for l in leaks}) == 50, report["leaks"]["heap"]
    # (sh's own frames are in a stripped dash: addresses in a module without symbols)
    for l in mine:
        assert all(f["module"] and f["symbol"] for f in l["stack"]), l
    for l in leaks:
        plugin_leak_frames(l, os.path.join(fixtures, prog), os.path.join(fixtures, lib))


def test_no_allocation_is_still_glibc(qh, tmp_path):
    """A process that maps the probed C library and never allocates is glibc's, with nothing
    outstanding: "not hooked" is for allocators qhtrace cannot probe."""
    report = heap_report(qh, tmp_path, [qh.fx("exitcode"), "0"])
    p = report["processes"][0]
    assert p["heap_allocs"] == 0, p
    assert p["allocator"] == "glibc", p
    assert (p["heap_outstanding_bytes"], p["heap_outstanding_blocks"]) == (0, 0), p
