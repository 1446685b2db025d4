#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Boot one of Debian's kernel packages under qemu and run a command in it, on this machine's own
# root filesystem: the kernel matrix of the tests. Nothing is installed into the host's /boot and
# nothing is mounted on the host; see usage() for what the guest looks like.
#
# How it works: the package is fetched with `apt-get download` and unpacked into a cache
# (depmod'ed there: packages ship no modules.dep). Each run packs a small initramfs (busybox-static
# and the few modules the root needs: virtio-pci, 9p, overlay and their dependencies), which
# mounts the host's / (virtio-9p, read-only) under a tmpfs overlay and switch_roots into it; this
# script then runs again in the guest as PID 1 (--guest-stage2) to mount what a booted Debian
# has and to run CMD. ttyS0 carries the kernel log to a file, ttyS1 and ttyS2 carry CMD's stdout
# and stderr, and a second 9p share (rw, a host temp dir) carries the boot mark and CMD's status.
set -u -o pipefail

PROG=vmrun
KERNEL_CACHE=${QH_KERNEL_CACHE:-/var/cache/qhtrace/kernels}
CACHE_KEEP=4 # unpacked kernels kept in the cache, least recently used removed first

usage() {
	cat <<'EOF'
usage: tools/vmrun.sh --kernel 6.1|6.12|PACKAGE [OPTIONS] -- CMD [ARGS...]

Boot a Debian kernel package under qemu (TCG, single-threaded) with this machine's root
filesystem shared read-only under a tmpfs overlay, run CMD there as root and exit with its
status. CMD's stdout and stderr stream to ours; stdin is /dev/null.

  --kernel K          6.1: the newest linux-image-6.1.0-N-amd64 in the apt index;
                      6.12: the newest linux-image-6.12.N+deb12-amd64-unsigned;
                      or an exact package name (linux-image-...)
  --mem MB            guest memory, 256..65536 (default 2048)
  --cpus N            guest CPUs, 1..16 (default 2; one host thread runs them all)
  --timeout S         kill the guest after S seconds in all, 1..86400 (default 3600)
  --boot-timeout S    give up when CMD has not started after S seconds, 1..3600 (default 300)
  --cwd DIR           run CMD in DIR (default: the current directory)
  --env NAME[=VALUE]  pass NAME (from our environment, or as VALUE) to CMD; repeatable.
                      Passed always when set: PATH HOME CI OUTPUT QHTRACE QH_FIXTURES LANG
                      LC_ALL TZ TERM USER LOGNAME
  --console FILE      keep the guest's kernel log (ttyS0) in FILE
  --append ARGS       more kernel command line (after "console=ttyS0 panic=-1 quiet")
  --cache DIR         kernel cache (default $QH_KERNEL_CACHE or /var/cache/qhtrace/kernels)
  -h, --help          this text

The guest: the package's kernel and modules (/lib/modules/$(uname -r)), its config at
/boot/config-$(uname -r); proc, sysfs, devtmpfs, devpts, /dev/shm, /run and /tmp (tmpfs),
cgroup2 at /sys/fs/cgroup, bpffs at /sys/fs/bpf, debugfs, tracefs at /sys/kernel/tracing (as
systemd mounts them at boot); the host's hostname, loopback up, the host's RLIMIT_MEMLOCK and
RLIMIT_NOFILE. Everything CMD writes goes to the tmpfs overlay and is gone when it exits.
QH_VM_KERNEL=PACKAGE is set for CMD.

Exit status: CMD's; 124 when --timeout expired; 125 when the guest could not run CMD (no such
package, download failed, qemu missing, guest did not boot, guest died before CMD ended).
Progress and the boot time go to stderr as "vmrun: ..." lines.

EXAMPLES
  tools/vmrun.sh --kernel 6.1 -- uname -r
  tools/vmrun.sh --kernel 6.12 -- sh -c 'bpftool btf dump file /sys/kernel/btf/vmlinux | head -1'
  tools/vmrun.sh --kernel linux-image-6.1.0-50-amd64 --timeout 900 -- tests/run --load
  tools/vmrun.sh --kernel 6.12 --console /tmp/console.log -- sh -c 'exit 3'; echo $?
EOF
}

err() { echo "$PROG: $*" >&2; }
die() {
	err "$@"
	exit 125
}

# NAME VALUE MIN MAX: a decimal integer within [MIN, MAX], or die
check_range() {
	[[ $2 =~ ^[0-9]+$ ]] && [ ${#2} -le 6 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
		die "$1 must be an integer in $3..$4, not '$2'"
}

now_us() { echo "${EPOCHREALTIME/./}"; }
# microseconds -> seconds with one decimal
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

# --- guest side: PID 1 after switch_root, on the host's root filesystem under the overlay -------

guest_stage2() {
	local share=/run/vmrun rc=125 envs argv p1 p2 i
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	# shellcheck source=/dev/null
	. "$share/vars"
	# what systemd mounts on a booted Debian (proc, sysfs, devtmpfs and /run came from stage 1)
	mkdir -p /dev/pts /dev/shm
	ln -sfn /proc/self/fd /dev/fd # udev makes these on a booted Debian, devtmpfs does not
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=000 devpts /dev/pts
	mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
	# libbpf reads the config for CONFIG_* externs; modprobe finds the package's modules (before
	# /tmp is mounted over: the cache may be there)
	cp "$VM_KDIR/config" "/boot/config-$VM_KREL"
	mkdir -p "/lib/modules/$VM_KREL"
	mount --bind "$VM_KDIR/tree/lib/modules/$VM_KREL" "/lib/modules/$VM_KREL"
	mount -o remount,bind,ro "/lib/modules/$VM_KREL"
	# a CMD directory under /tmp (a CI's clone) stays visible through the tmpfs mounted there
	local keep='' rest
	case $VM_CWD in
	/tmp/?*) rest=${VM_CWD#/tmp/} && keep=/tmp/${rest%%/*} ;;
	esac
	[ -n "$keep" ] && mkdir -p /run/vmrun-keep && mount --bind "$keep" /run/vmrun-keep
	mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
	[ -n "$keep" ] && mkdir -p "$keep" && mount --move /run/vmrun-keep "$keep"
	mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
	mount -t bpf -o nosuid,nodev,noexec,mode=700 bpf /sys/fs/bpf
	mount -t debugfs -o nosuid,nodev,noexec debugfs /sys/kernel/debug
	mount -t tracefs -o nosuid,nodev,noexec tracefs /sys/kernel/tracing
	mount -t securityfs -o nosuid,nodev,noexec securityfs /sys/kernel/security 2>/dev/null
	hostname "$VM_HOSTNAME"
	busybox ip link set lo up
	ulimit -Hl "$VM_MEMLOCK_HARD" && ulimit -Sl "$VM_MEMLOCK_SOFT"
	ulimit -Hn "$VM_NOFILE_HARD" && ulimit -Sn "$VM_NOFILE_SOFT"
	: >"$share/booted"

	# The serial lines in raw mode carry CMD's bytes as they are (no \n -> \r\n); CMD writes
	# into pipes, not ttys, as on the host under `make test`.
	stty -F /dev/ttyS1 raw -echo && stty -F /dev/ttyS2 raw -echo
	exec 3> >(exec cat >/dev/ttyS1)
	p1=$!
	exec 4> >(exec cat >/dev/ttyS2)
	p2=$!
	mapfile -d '' envs <"$share/env"
	mapfile -d '' argv <"$share/argv"
	if cd "$VM_CWD"; then
		env -i "${envs[@]}" "${argv[@]}" </dev/null >&3 2>&4
		rc=$?
	else
		echo "$PROG: cannot enter $VM_CWD in the guest" >&4
	fi
	echo "$rc" >"$share/rc"
	exec 3>&- 4>&-
	# Output of what CMD left running still holds the pipes: give the cats a moment to drain
	# what CMD wrote, then end everything (kill -1 spares PID 1).
	for i in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$p1" 2>/dev/null || kill -0 "$p2" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL -1 2>/dev/null
	sync
	busybox poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 60
}

if [ "${1:-}" = "--guest-stage2" ]; then
	guest_stage2
	exit 1 # not reached: PID 1 exiting panics the guest, which ends qemu (-no-reboot)
fi

# --- host side ---------------------------------------------------------------------------------

kernel=
mem=2048
cpus=2
timeout=3600
boot_timeout=300
cwd=$PWD
console=
append=
envs=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:-} && shift ;;
	--mem) check_range --mem "${2:-}" 256 65536 && mem=$2 && shift ;;
	--cpus) check_range --cpus "${2:-}" 1 16 && cpus=$2 && shift ;;
	--timeout) check_range --timeout "${2:-}" 1 86400 && timeout=$2 && shift ;;
	--boot-timeout) check_range --boot-timeout "${2:-}" 1 3600 && boot_timeout=$2 && shift ;;
	--cwd) cwd=${2:-} && shift ;;
	--env) envs+=("${2:-}") && shift ;;
	--console) console=${2:-} && shift ;;
	--append) append=${2:-} && shift ;;
	--cache) KERNEL_CACHE=${2:-} && shift ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		break
		;;
	*)
		err "unknown option '$1' (try --help)"
		exit 125
		;;
	esac
	shift
done
[ -n "$kernel" ] || die "--kernel is required (try --help)"
[ $# -gt 0 ] || die "no command given: tools/vmrun.sh --kernel K -- CMD [ARGS...]"
[ -d "$cwd" ] || die "--cwd $cwd: no such directory"
cwd=$(cd "$cwd" && pwd)
[ -n "$KERNEL_CACHE" ] || die "--cache needs a directory"

# a missing tool is named by the Debian package that has it (tools/install-deps.sh --test)
for tool in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio \
	depmod:kmod xz:xz-utils zstd:zstd apt-get:apt dpkg-deb:dpkg flock:util-linux; do
	command -v "${tool%%:*}" >/dev/null 2>&1 ||
		die "${tool%%:*} not found: install the Debian package ${tool#*:} (tools/install-deps.sh --test)"
done
[ "$(id -u)" = 0 ] || die "must run as root: the guest shares the host's root filesystem as root"
busybox_bin=$(command -v busybox)
busybox_bin=$(readlink -f "$busybox_bin")
if LC_ALL=C ldd "$busybox_bin" >/dev/null 2>&1; then
	die "$busybox_bin is linked dynamically: install busybox-static"
fi

# The package that --kernel names: the newest in the apt index for a series.
apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return 1
	apt_updated=1
	err "refreshing the apt index (apt-get update)"
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1
	return 0
}
resolve_package() { # K -> package name on stdout
	local re
	case $1 in
	6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
	linux-image-*)
		apt-cache show --no-all-versions "$1" >/dev/null 2>&1 && echo "$1"
		return
		;;
	*) return 2 ;;
	esac
	apt-cache pkgnames "linux-image-$1" 2>/dev/null | grep -E "$re" | sort -V | tail -n1
}
pkg=$(resolve_package "$kernel")
case $? in
2) die "--kernel $kernel: not 6.1, 6.12 or a linux-image-* package name" ;;
esac
if [ -z "$pkg" ] && apt_update; then
	pkg=$(resolve_package "$kernel")
fi
[ -n "$pkg" ] || die "kernel package for '$kernel' not found in the apt index (is this Debian 12 with its security suite?)"
version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
[ -n "$version" ] || die "$pkg: no version in the apt index"

# Unpacked kernels live in $KERNEL_CACHE/PACKAGE_VERSION: vmlinuz, config, krel, the initramfs
# modules in load order (initmods/), and the package's tree (for /lib/modules in the guest).
kdir=$KERNEL_CACHE/${pkg}_${version//:/%}
mkdir -p "$KERNEL_CACHE" || die "cannot create the kernel cache $KERNEL_CACHE"
exec 9>"$KERNEL_CACHE/.lock"
flock 9 # one run at a time prepares or prunes the cache
rm -rf "$KERNEL_CACHE"/.tmp.* # what a killed run left half unpacked

prepare_kernel() {
	local tmp=$KERNEL_CACHE/.tmp.$$ deb=() dirs=() krel mods order=() m f n
	local -A deps=() seen=()
	rm -rf "$tmp" && mkdir -p "$tmp/initmods" || die "cannot write to $KERNEL_CACHE"
	err "downloading $pkg $version into $KERNEL_CACHE"
	if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$version") \
		>"$tmp/apt.log" 2>&1; then
		if apt_update && (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download \
			"$pkg") >"$tmp/apt.log" 2>&1; then
			:
		else
			f=$(grep -E '^(E|W):' "$tmp/apt.log" | tail -n1)
			rm -rf "$tmp"
			die "failed to download $pkg: ${f:-apt-get download failed}"
		fi
	fi
	deb=("$tmp"/*.deb)
	[ -f "${deb[0]}" ] || die "failed to download $pkg: apt-get wrote no .deb"
	dpkg-deb -x "${deb[0]}" "$tmp/tree" || die "failed to unpack ${deb[0]}"
	rm -f "${deb[@]}"
	dirs=("$tmp"/tree/lib/modules/*)
	krel=${dirs[0]##*/}
	[ -n "$krel" ] && [ -f "$tmp/tree/boot/vmlinuz-$krel" ] && [ -f "$tmp/tree/boot/config-$krel" ] ||
		die "$pkg holds no /boot/vmlinuz-KREL, /boot/config-KREL and /lib/modules/KREL"
	depmod -b "$tmp/tree" "$krel" || die "depmod failed on $pkg"
	mv "$tmp/tree/boot/vmlinuz-$krel" "$tmp/vmlinuz"
	cp "$tmp/tree/boot/config-$krel" "$tmp/config"
	echo "$krel" >"$tmp/krel"

	# The modules the root needs, each after its dependencies (modules.dep lists them all,
	# transitively), decompressed for busybox's insmod. Built-in ones are simply absent.
	mods=$tmp/tree/lib/modules/$krel
	while IFS= read -r line; do
		m=${line%%:*}
		deps[$(basename "${m%%.ko*}")]="$m${line#*:}"
	done <"$mods/modules.dep"
	add_mod() {
		local name=$1 path d
		[ -n "${seen[$name]:-}" ] && return
		seen[$name]=1
		[ -n "${deps[$name]:-}" ] || return 0 # built in
		# shellcheck disable=SC2086
		set -- ${deps[$name]}
		path=$1
		shift
		for d in "$@"; do
			add_mod "$(basename "${d%%.ko*}")"
		done
		order+=("$path")
	}
	for m in virtio_pci virtio_pci_modern_dev 9pnet_virtio 9p overlay; do
		add_mod "$m"
	done
	n=0
	for m in "${order[@]}"; do
		f=$tmp/initmods/$(printf '%02d' $n)-$(basename "${m%%.ko*}").ko
		case $m in
		*.ko.xz) xz -dc "$mods/$m" >"$f" ;;
		*.ko.zst) zstd -qdc "$mods/$m" >"$f" ;;
		*.ko.gz) gzip -dc "$mods/$m" >"$f" ;;
		*) cp "$mods/$m" "$f" ;;
		esac || die "cannot decompress $m"
		n=$((n + 1))
	done
	for m in 9p overlay; do
		[ -n "${deps[$m]:-}" ] || grep -q "/$m.ko" "$mods/modules.builtin" ||
			die "$pkg has no $m module: it cannot mount the host's root"
	done
	rm -rf "$kdir"
	mv "$tmp" "$kdir" || die "cannot move the unpacked kernel into $kdir"
}

if [ ! -f "$kdir/.ready" ]; then
	t0=$(now_us)
	prepare_kernel
	touch "$kdir/.ready"
	err "cached $pkg in $kdir ($(secs $(($(now_us) - t0))) s)"
fi
touch "$kdir/.ready" # its mtime orders the cache for pruning
# keep the CACHE_KEEP most recently used kernels
ls -1dt "$KERNEL_CACHE"/*/.ready 2>/dev/null | tail -n +$((CACHE_KEEP + 1)) | while read -r f; do
	rm -rf "$(dirname "$f")"
done
exec 9>&-
krel=$(cat "$kdir/krel")

# --- one run: a temp dir with the rw share, the initramfs and the output FIFOs -----------------

run=$(mktemp -d /tmp/vmrun.XXXXXX) || die "cannot create a temp dir"
share=$run/share
qpid='' cat_pids=()
cleanup() {
	local i
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	for i in "${cat_pids[@]}"; do
		kill "$i" 2>/dev/null
		wait "$i" 2>/dev/null
	done
	rm -rf "$run"
}
trap cleanup EXIT
trap 'err "interrupted"; exit 130' INT
trap 'err "terminated"; exit 143' TERM

mkdir -p "$share" "$run"/initramfs/{bin,dev,proc,sys,lib/modules} || die "cannot write to $run"
cp "$0" "$share/vmrun.sh"

# CMD's environment: the usual variables when set, then --env
passenv=(PATH HOME CI OUTPUT QHTRACE QH_FIXTURES LANG LC_ALL TZ TERM USER LOGNAME)
{
	for n in "${passenv[@]}"; do
		[ -n "${!n+x}" ] && printf '%s=%s\0' "$n" "${!n}"
	done
	for e in "${envs[@]}"; do
		case $e in
		*=*) printf '%s\0' "$e" ;;
		*) [ -n "${!e+x}" ] && printf '%s=%s\0' "$e" "${!e}" ;;
		esac
	done
	printf 'QH_VM_KERNEL=%s\0' "$pkg"
} >"$share/env"
printf '%s\0' "$@" >"$share/argv"
hostname=$(cat /etc/hostname 2>/dev/null || hostname)
{
	printf 'VM_KDIR=%q VM_KREL=%q VM_CWD=%q VM_HOSTNAME=%q\n' "$kdir" "$krel" "$cwd" "${hostname:-debian}"
	printf 'VM_MEMLOCK_SOFT=%q VM_MEMLOCK_HARD=%q\n' "$(ulimit -Sl)" "$(ulimit -Hl)"
	printf 'VM_NOFILE_SOFT=%q VM_NOFILE_HARD=%q\n' "$(ulimit -Sn)" "$(ulimit -Hn)"
} >"$share/vars"

# Stage 1, the initramfs: load the modules, put the overlay root together, hand over to stage 2.
cp "$busybox_bin" "$run/initramfs/bin/busybox"
cp "$kdir"/initmods/*.ko "$run/initramfs/lib/modules/" 2>/dev/null
cat >"$run/initramfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() {
	echo "vmrun-init: $*" >/dev/console
	poweroff -f
}
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=755 devtmpfs /dev
for m in /lib/modules/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || fail "insmod $m failed"
done
mkdir -p /lower /rw /newroot
# the host's files do not change under a run: cache them in the guest
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose root /lower ||
	fail "cannot mount the host's root (9p)"
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fail "cannot mount the overlay root"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /newroot/run
mkdir /newroot/run/vmrun
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none vmrun /newroot/run/vmrun ||
	fail "cannot mount the vmrun share (9p)"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash /run/vmrun/vmrun.sh --guest-stage2
EOF
chmod 755 "$run/initramfs/init"
(cd "$run/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initrd" ||
	die "cannot build the initramfs"
rm -rf "$run/initramfs"

# CMD's stdout and stderr come out of FIFOs, so that ours may be anything (a pipe, a file, a
# socket); the readers must be there before qemu opens them.
mkfifo "$run/out" "$run/err" || die "cannot create FIFOs in $run"
cat "$run/out" &
cat_pids+=($!)
cat "$run/err" >&2 &
cat_pids+=($!)

err "booting $pkg $version (kernel $krel) under qemu TCG, $cpus CPUs, $mem MB"
t0=$(now_us)
qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
	-machine pc -accel tcg,thread=single -cpu max -smp "$cpus" -m "$mem" \
	-kernel "$kdir/vmlinuz" -initrd "$run/initrd" \
	-append "console=ttyS0 panic=-1 quiet $append" \
	-serial "file:$run/console" \
	-chardev "file,id=out,path=$run/out" -serial chardev:out \
	-chardev "file,id=err,path=$run/err" -serial chardev:err \
	-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$share,mount_tag=vmrun,security_model=none" \
	</dev/null >"$run/qemu.log" 2>&1 &
qpid=$!

show_console() {
	[ -s "$run/qemu.log" ] && sed 's/^/  qemu: /' "$run/qemu.log" >&2
	[ -s "$run/console" ] && tail -n 25 "$run/console" | sed 's/^/  console: /' >&2
}
booted=0 status=
while kill -0 "$qpid" 2>/dev/null; do
	el=$(($(now_us) - t0))
	if [ "$booted" = 0 ] && [ -e "$share/booted" ]; then
		booted=1
		err "$pkg booted in $(secs "$el") s"
	fi
	if [ "$booted" = 0 ] && [ "$el" -ge $((boot_timeout * 1000000)) ]; then
		show_console
		status=boot
		break
	fi
	if [ "$el" -ge $((timeout * 1000000)) ]; then
		status=timeout
		break
	fi
	sleep 0.1
done
el=$(($(now_us) - t0))
[ -n "$console" ] && cp "$run/console" "$console"
if [ "$status" = timeout ]; then
	cleanup
	trap - EXIT
	err "timed out after $timeout s on $pkg: killed the guest (--timeout)"
	exit 124
fi
if [ "$status" = boot ]; then
	die "guest $pkg did not boot within $boot_timeout s (--boot-timeout)"
fi
wait "$qpid"
qrc=$?
qpid=
for p in "${cat_pids[@]}"; do
	wait "$p" 2>/dev/null
done
cat_pids=()
if [ -s "$share/rc" ]; then
	rc=$(cat "$share/rc")
	err "$pkg: CMD exited $rc after $(secs "$el") s"
	exit "$rc"
fi
show_console
if [ "$booted" = 0 ]; then
	die "guest $pkg did not boot (qemu exited $qrc after $(secs "$el") s)"
fi
die "guest $pkg ended before CMD did (qemu exited $qrc after $(secs "$el") s)"
