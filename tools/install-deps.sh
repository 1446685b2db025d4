#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Install the Debian 12 packages qhtrace needs to build and test, if any is missing.
# Called by the Makefile; safe to run again (does nothing when all are present).
#   tools/install-deps.sh          build dependencies
#   tools/install-deps.sh --test   build and test dependencies
set -eu

# node-d3: D3, linked into qhtrace for the HTML report's charts (user/assets.S)
# g++: libstdc++ (its demangler, linked in) and the C++ fixtures
# libsystemd-dev: sd_notify for the monitor's Type=notify unit (user/notify.c)
build="clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libcjson-dev pkg-config make gcc
g++ node-d3 libsystemd-dev"
# chromium, chromium-driver, python3-selenium: the WebDriver end-to-end tests (/usr/bin/python3);
# python3-pytest-xdist, sudo: the per-test attribution tests (-n 2, and a suite run through sudo)
# qemu-system-x86 .. zstd: the kernel matrix (tools/vmrun.sh: qemu, the initramfs's busybox and
# cpio, depmod for the kernel package, its modules' xz/zstd)
# libclang-rt-14-dev: clang's libFuzzer and sanitizer runtimes (make fuzz); libcap2-bin: capsh,
# with util-linux's setpriv the unprivileged-mode tests
# prometheus: promtool (the alert rules and the metrics exposition checked) and the server the
# metrics end-to-end tests scrape with; systemd: systemd-analyze, which verifies the monitor's
# unit (tests/e2e/test_install.py)
test="libcmocka-dev python3 python3-pytest python3-pytest-xdist sudo util-linux libcap2-bin
libclang-rt-14-dev chromium chromium-driver python3-selenium systemd
qemu-system-x86 busybox-static cpio kmod xz-utils zstd prometheus"

pkgs=$build
[ "${1:-}" = "--test" ] && pkgs="$pkgs $test"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing -- run 'sudo $0 ${1:-}'" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: apt-get not found: install$missing by hand" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# another apt run (a parallel build, unattended-upgrades) holds the lock: wait for it
apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >&2
