# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end: `qhtrace attach --heap` follows the malloc family of glibc exactly.

Run: /usr/bin/python3 -m pytest tests/e2e/test_heap.py
"""


def heap_report(qh, tmp_path, args, opts=("-q", "--heap")):
    rc, report, err = qh.run_attach(args, tmp_path / "report.json", opts=opts)
    assert rc == 0, f"qhtrace exited {rc}; stderr:\n{err}"
    assert report is not None, err
    return report


def test_heapmix_exact(qh, tmp_path):
    """Every malloc-family function; the blocks left live are counted exactly."""
    report = heap_report(qh, tmp_path, [qh.fx("heapmix")])
    assert report["events"]["incomplete"] is False, report["events"]
    (p,) = report["processes"]
    assert p["exit_code"] == 0, p
    assert p["allocator"] == "glibc", p
    # 10 x 1000 (malloc) + 5 x 4096 (calloc) + 3 x 100 (malloc in a thread), never freed,
    # and the DTV that pthread_create callocs for the thread (272 bytes on glibc 2.36; the
    # 1 KiB margin is for another glibc's DTV size)
    leaked = 10 * 1000 + 5 * 4096 + 3 * 100
    assert p["heap_outstanding_blocks"] == 18 + 1, p
    assert leaked < p["heap_outstanding_bytes"] <= leaked + 1024, p
    # the realloc to SIZE_MAX - 4096 and the overflowing calloc returned NULL
    assert p["heap_failed_allocs"] == 2, p
    assert p["threads_peak"] == 2, p


def test_free_everything_is_zero(qh, tmp_path):
    """A program that frees all it allocates has nothing outstanding."""
    report = heap_report(qh, tmp_path, [qh.fx("heapfree")])
    (p,) = report["processes"]
    assert p["allocator"] == "glibc", p
    assert p["heap_allocs"] == 1000, p
    assert p["heap_frees"] == 1000, p
    assert p["heap_outstanding_bytes"] == 0 and p["heap_outstanding_blocks"] == 0, p


def test_static_binary_not_hooked(qh, tmp_path):
    """A process that maps no probed C library is named so, never shown as 0 outstanding."""
    report = heap_report(qh, tmp_path, [qh.fx("static_true")])
    (p,) = report["processes"]
    assert p["allocator"].startswith("not hooked"), p
    assert p["heap_outstanding_bytes"] is None, p


def test_heap_not_traced_without_option(qh, tmp_path):
    report = heap_report(qh, tmp_path, [qh.fx("heapmix")], opts=("-q",))
    (p,) = report["processes"]
    assert p["allocator"].startswith("not traced"), p
    assert p["heap_outstanding_bytes"] is None, p
