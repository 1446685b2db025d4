# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# qhtrace: `make` builds .output/qhtrace, `make test` runs every test tier (`make kernel-test`
# only the Debian kernels under qemu), `make demo` runs qhtrace on the bundled demo workload.
# Missing Debian packages are installed first.

OUTPUT ?= .output
PREFIX ?= /usr/local
DESTDIR ?=
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VERSION := 0.1.0

# maps.bpf.c defines the shared maps, the others declare them extern: libbpf 1.1's linker
# resolves the extern maps only when the defining object comes first.
BPF_SRCS := bpf/maps.bpf.c $(filter-out bpf/maps.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS)) $(OUTPUT)/user/assets.o
# modules that need no BPF skeleton: what the unit tests link against
PURE_OBJS := $(filter-out $(OUTPUT)/user/tracer.o $(OUTPUT)/user/cmd_attach.o \
	$(OUTPUT)/user/session.o $(OUTPUT)/user/cmd_leaks.o $(OUTPUT)/user/hold.o \
	$(OUTPUT)/user/cmd_monitor.o,$(USER_OBJS))
FIXTURES := $(patsubst tests/fixtures/%.c,$(OUTPUT)/fixtures/%,$(wildcard tests/fixtures/*.c)) \
	$(patsubst tests/fixtures/%.cc,$(OUTPUT)/fixtures/%,$(wildcard tests/fixtures/*.cc)) \
	$(patsubst tests/fixtures/%.cc,$(OUTPUT)/fixtures/%_fp,$(wildcard tests/fixtures/*.cc)) \
	$(OUTPUT)/fixtures/heapleak_fp $(OUTPUT)/fixtures/stackc_fp \
	$(OUTPUT)/fixtures/libstkplug.so $(OUTPUT)/fixtures/libstkplug_fp.so \
	$(OUTPUT)/fixtures/reach_classes_fp $(OUTPUT)/fixtures/reach_threads_fp
# the prototype of the hold at exit and the pointer scan (user/hold.c is qhtrace's own)
HOLD_TOOLS := $(OUTPUT)/tests/holdscan
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/*.c))
LOAD_TESTS := $(patsubst tests/load/%.c,$(OUTPUT)/tests/%,$(wildcard tests/load/*.c))

# the HTML report's charts: D3 from Debian's node-d3 (tools/install-deps.sh), linked in with
# its license (user/assets.S), so neither qhtrace nor its pages need it at run time
D3_JS ?= /usr/share/nodejs/d3/dist/d3.min.js
D3_LICENSE ?= /usr/share/doc/node-d3/copyright

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ibpf -Ivmlinux/$(ARCH) -MMD -MP
CFLAGS ?= -O2 -g
LDFLAGS ?=
QH_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-DQH_VERSION='"$(VERSION)"' -Iuser -Ibpf -I$(OUTPUT) -MMD -MP
# libsystemd: sd_notify (user/notify.c); everything is linked dynamically
LDLIBS := -lbpf -lelf -ldw -lz -lcjson -lsystemd -lpthread -lm -lstdc++

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test-deps test kernel-test unit-test demo bench install uninstall clean fuzz \
	fuzz-build sanitize-build

all: $(OUTPUT)/qhtrace

# A fresh machine needs nothing done by hand: the stamp re-runs the installer when it changes.
$(OUTPUT)/.deps: tools/install-deps.sh | $(OUTPUT)
	$(call msg,DEPS,build)
	$(Q)./tools/install-deps.sh
	$(Q)touch $@

$(OUTPUT)/.test-deps: tools/install-deps.sh | $(OUTPUT)
	$(call msg,DEPS,test)
	$(Q)./tools/install-deps.sh --test
	$(Q)touch $@
	@# the build packages are in too; an existing .deps stays older than the objects, so
	@# they are not rebuilt for it
	$(Q)[ -e $(OUTPUT)/.deps ] || touch $(OUTPUT)/.deps

deps: $(OUTPUT)/.deps
test-deps: $(OUTPUT)/.test-deps

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/user $(OUTPUT)/fixtures $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/.deps | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/qhtrace.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/qhtrace.skel.h: $(OUTPUT)/qhtrace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name qhtrace_bpf > $@

# the objects that include the skeleton
$(OUTPUT)/user/tracer.o: $(OUTPUT)/qhtrace.skel.h

$(OUTPUT)/user/%.o: user/%.c $(OUTPUT)/.deps | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(QH_CFLAGS) -c $< -o $@

$(OUTPUT)/user/assets.o: user/assets.S user/html.js user/html.css $(OUTPUT)/.deps | $(OUTPUT)/user
	$(call msg,AS,$@)
	$(Q)$(CC) -c -DQH_D3_JS='"$(D3_JS)"' -DQH_D3_LICENSE='"$(D3_LICENSE)"' $< -o $@

$(OUTPUT)/qhtrace: $(OUTPUT)/user/main.o $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/fixtures/%: tests/fixtures/%.c | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -pthread $< -o $@

# the same program with frame pointers, so the kernel can walk its whole stack
$(OUTPUT)/fixtures/%_fp: tests/fixtures/%.c | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread $< -o $@

# C++ fixtures (g++), without and with frame pointers
$(OUTPUT)/fixtures/%: tests/fixtures/%.cc | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CXX) -O1 -g -Wall -Wextra -Werror $< -o $@

$(OUTPUT)/fixtures/%_fp: tests/fixtures/%.cc | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CXX) -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror $< -o $@

# libraries a fixture dlopen's
$(OUTPUT)/fixtures/lib%.so: tests/fixtures/plugin/%.c | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) -O1 -g -fPIC -shared -Wall -Wextra -Werror $< -o $@

$(OUTPUT)/fixtures/lib%_fp.so: tests/fixtures/plugin/%.c | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) -O1 -g -fno-omit-frame-pointer -fPIC -shared -Wall -Wextra -Werror $< -o $@

# the reach fixtures report their blocks through one header
$(filter $(OUTPUT)/fixtures/reach_%,$(FIXTURES)): tests/fixtures/reach.h

# a program that maps no shared C library
$(OUTPUT)/fixtures/static_true: tests/fixtures/static_true.c | $(OUTPUT)/fixtures
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -static $< -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(PURE_OBJS) $(OUTPUT)/.test-deps | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $< $(PURE_OBJS) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/load/%.c $(USER_OBJS) $(OUTPUT)/.test-deps | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $< $(USER_OBJS) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/holdscan: tests/hold/holdscan.c $(OUTPUT)/user/heapscan.o | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $^ -o $@

# libFuzzer harnesses (tests/fuzz/, clang's libFuzzer with ASan and UBSan): the pure modules
# built again for them; `make fuzz` runs each for FUZZ_SECONDS on its seed corpus.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_DIR := $(OUTPUT)/fuzz
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/*.c))
FUZZ_OBJS := $(patsubst $(OUTPUT)/user/%.o,$(FUZZ_DIR)/user/%.o,$(PURE_OBJS))
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -std=gnu11 -Wall -Wextra -Werror -Wno-unused-command-line-argument \
	-D_GNU_SOURCE -DQH_VERSION='"$(VERSION)"' -Iuser -Ibpf -I$(OUTPUT) -MMD -MP

$(FUZZ_DIR)/user/%.o: user/%.c $(OUTPUT)/.test-deps
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# the HTML report's linked-in files: data only, nothing to instrument
$(FUZZ_DIR)/user/assets.o: $(OUTPUT)/user/assets.o
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@

$(FUZZ_DIR)/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $(LDLIBS) -o $@

fuzz-build: $(FUZZ_TARGETS)

fuzz: $(FUZZ_TARGETS)
	$(Q)OUTPUT=$(OUTPUT) FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/run --fuzz

# The sanitizer build: everything again with ASan and UBSan (no recovery: the first report
# aborts) in its own OUTPUT, for `tests/run --sanitize` (the unit and end-to-end tiers on it).
# -O2 as the plain build, so -Werror sees the same warnings (some need -O2's analysis to hold).
SAN_OUTPUT ?= $(OUTPUT)-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

sanitize-build: $(OUTPUT)/.test-deps
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(SAN_OUTPUT) CFLAGS="-O2 -g $(SAN_FLAGS)" \
		LDFLAGS="$(SAN_FLAGS)" -f Makefile -f tests/sanitize.mk sanitize-prereqs

# Every tier: unit (no root), load and end-to-end (root) on this kernel, the fuzz targets
# (FUZZ_SECONDS each), the unit and end-to-end tiers again on the sanitizer build, then the load
# tier and an end-to-end subset on each Debian kernel of the matrix under qemu (tools/vmrun.sh).
# Ends with "N passed, N failed, N skipped".
test: $(OUTPUT)/.test-deps $(OUTPUT)/qhtrace $(FIXTURES) $(UNIT_TESTS) $(LOAD_TESTS) \
		$(HOLD_TOOLS) $(FUZZ_TARGETS) sanitize-build
	$(Q)OUTPUT=$(OUTPUT) SAN_OUTPUT=$(SAN_OUTPUT) FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/run

# the kernel matrix alone (QH_KERNELS="6.1 6.12" by default; a package name pins one)
kernel-test: $(OUTPUT)/.test-deps $(OUTPUT)/qhtrace $(FIXTURES) $(LOAD_TESTS) $(HOLD_TOOLS)
	$(Q)OUTPUT=$(OUTPUT) ./tests/run --kernels

unit-test: $(UNIT_TESTS)
	$(Q)OUTPUT=$(OUTPUT) ./tests/run --unit

demo: $(OUTPUT)/qhtrace $(OUTPUT)/fixtures/demo
	$(Q)$(OUTPUT)/qhtrace attach --heap -o $(OUTPUT)/demo-report.json \
		--html $(OUTPUT)/demo-report.html -- $(OUTPUT)/fixtures/demo
	@echo "JSON report: $(OUTPUT)/demo-report.json"
	@echo "HTML report: $(OUTPUT)/demo-report.html"

# the heap benchmark: its own no-op BPF object (the floor) beside qhtrace
$(OUTPUT)/bench/floor.bpf.o: tests/bench/floor.bpf.c $(OUTPUT)/.deps
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bench/floor.skel.h: $(OUTPUT)/bench/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(OUTPUT)/bench/heapbench: tests/bench/heapbench.c $(OUTPUT)/bench/floor.skel.h $(USER_OBJS)
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) -I$(OUTPUT)/bench $< $(USER_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/bench/fdfloor: tests/bench/fdfloor.c $(OUTPUT)/bench/floor.skel.h
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) -I$(OUTPUT)/bench $< -lbpf -lelf -lz -o $@

$(OUTPUT)/bench/tpcost: tests/bench/tpcost.c $(OUTPUT)/bench/floor.skel.h
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) -I$(OUTPUT)/bench $< -lbpf -lelf -lz -o $@

$(OUTPUT)/bench/churn: tests/bench/churn.c tests/bench/bench.h
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror $< -o $@

$(OUTPUT)/bench/fdloop: tests/bench/fdloop.c
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) -O2 -Wall -Wextra -Werror $< -o $@

$(OUTPUT)/bench/procchurn: tests/bench/procchurn.c
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) -O2 -Wall -Wextra -Werror $< -o $@

$(OUTPUT)/bench/markbench: tests/bench/markbench.c
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) -O2 -Wall -Wextra -Werror $< -o $@

# the event log writer alone: 10,000,000 events, gzip level 1 and 6
$(OUTPUT)/bench/evlogbench: tests/bench/evlogbench.c $(OUTPUT)/user/evlog.o $(OUTPUT)/user/util.o
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $^ -lz -o $@

# the pointer scan at exit: 1,000,000 blocks, 256 MiB of heap
$(OUTPUT)/bench/scanbench: tests/bench/scanbench.c $(OUTPUT)/user/heapscan.o
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $^ -o $@

# a scrape of the monitor's metrics: 100 groups, 100 jobs
$(OUTPUT)/bench/metricsbench: tests/bench/metricsbench.c $(PURE_OBJS)
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $< $(PURE_OBJS) $(LDLIBS) -o $@

# what the ptrace hold at exit costs the traced tree while it runs
$(OUTPUT)/bench/holdcost: tests/bench/holdcost.c
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(OUTPUT)/bench
	$(Q)$(CC) $(QH_CFLAGS) $(LDFLAGS) $< -lpthread -o $@

bench: $(OUTPUT)/qhtrace $(FIXTURES) $(OUTPUT)/bench/heapbench $(OUTPUT)/bench/churn \
		$(OUTPUT)/bench/fdloop $(OUTPUT)/bench/fdfloor $(OUTPUT)/bench/tpcost \
		$(OUTPUT)/bench/evlogbench $(OUTPUT)/bench/scanbench $(OUTPUT)/bench/holdcost \
		$(OUTPUT)/bench/markbench $(OUTPUT)/bench/procchurn $(OUTPUT)/bench/metricsbench
	$(Q)/usr/bin/python3 tests/bench/startup.py
	$(Q)/usr/bin/python3 tests/bench/fdbench.py
	$(Q)/usr/bin/python3 tests/bench/exitbench.py --qhtrace $(OUTPUT)/qhtrace \
		--procchurn $(OUTPUT)/bench/procchurn
	$(Q)$(OUTPUT)/bench/tpcost
	$(Q)$(OUTPUT)/bench/heapbench $(OUTPUT)/qhtrace $(OUTPUT)/bench/churn
	$(Q)/usr/bin/python3 tests/bench/heapbystander.py
	$(Q)$(OUTPUT)/bench/evlogbench
	$(Q)/usr/bin/python3 tests/bench/htmlbench.py --qhtrace $(OUTPUT)/qhtrace
	@echo "control socket round trip, fds followed (the default):"
	$(Q)$(OUTPUT)/qhtrace attach -q -- $(OUTPUT)/bench/markbench 2000
	@echo "the same with --no-fds:"
	$(Q)$(OUTPUT)/qhtrace attach -q --no-fds -- $(OUTPUT)/bench/markbench 2000
	$(Q)$(OUTPUT)/bench/scanbench
	$(Q)$(OUTPUT)/bench/holdcost
	$(Q)/usr/bin/python3 tests/bench/monitorbench.py --metrics 127.0.0.1:9499
	$(Q)$(OUTPUT)/bench/metricsbench

# `make install`: the binary in $(PREFIX)/bin (not sbin: report, diff, config, mark and status
# are run by users, mark and status inside a traced suite as its user), the systemd unit with
# its paths set to PREFIX and SYSCONFDIR, the monitor's settings file (an empty one, all
# defaults, only if there is none), the example alert rules, and the pytest plugin.
# The unit goes where systemd looks for an administrator's units, $(PREFIX)/lib/systemd/system
# (/usr/local/lib/systemd/system is on systemd's search path), or Debian's /lib/systemd/system
# for PREFIX=/usr.
SYSCONFDIR ?= /etc
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DATADIR ?= $(PREFIX)/share/qhtrace
ALERT_RULES := $(wildcard tools/qhtrace-alerts.yml)

# the pytest plugin where Debian's Python finds it (/usr/local/lib/python3.N/dist-packages for
# PREFIX=/usr/local, /usr/lib/python3/dist-packages for /usr), with the entry point that makes
# pytest load it
PY_MINOR := $(shell /usr/bin/python3 -c 'import sys; print(sys.version_info[1])' 2>/dev/null)
PYDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python3.$(PY_MINOR)/dist-packages)
PLUGIN_INFO := $(DESTDIR)$(PYDIR)/qhtrace_pytest-$(VERSION).dist-info

install: $(OUTPUT)/qhtrace
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX)/bin/qhtrace)
	$(Q)install -D -m 0755 $< $(DESTDIR)$(PREFIX)/bin/qhtrace
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/qhtrace-monitor.service)
	$(Q)install -d -m 0755 $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|/usr/local/bin/qhtrace|$(PREFIX)/bin/qhtrace|' \
		-e 's|/etc/qhtrace/|$(SYSCONFDIR)/qhtrace/|' \
		-e 's|/etc/default/qhtrace|$(SYSCONFDIR)/default/qhtrace|' \
		tools/qhtrace-monitor.service > $(DESTDIR)$(UNITDIR)/qhtrace-monitor.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/qhtrace-monitor.service
	$(Q)if [ ! -e $(DESTDIR)$(SYSCONFDIR)/qhtrace/monitor.json ]; then \
		printf '  %-8s %s\n' INSTALL $(DESTDIR)$(SYSCONFDIR)/qhtrace/monitor.json; \
		install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/qhtrace && \
		printf '{}\n' > $(DESTDIR)$(SYSCONFDIR)/qhtrace/monitor.json && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/qhtrace/monitor.json; fi
ifneq ($(ALERT_RULES),)
	$(call msg,INSTALL,$(DESTDIR)$(DATADIR)/qhtrace-alerts.yml)
	$(Q)install -D -m 0644 $(ALERT_RULES) $(DESTDIR)$(DATADIR)/qhtrace-alerts.yml
endif
	$(call msg,INSTALL,$(DESTDIR)$(PYDIR)/qhtrace_pytest.py)
	$(Q)install -D -m 0644 user/python/qhtrace_pytest.py $(DESTDIR)$(PYDIR)/qhtrace_pytest.py
	$(Q)mkdir -p $(PLUGIN_INFO)
	$(Q)printf 'Metadata-Version: 2.1\nName: qhtrace-pytest\nVersion: $(VERSION)\nSummary: qhtrace findings per test\n' > $(PLUGIN_INFO)/METADATA
	$(Q)printf '[pytest11]\nqhtrace = qhtrace_pytest\n' > $(PLUGIN_INFO)/entry_points.txt
	$(Q)printf 'qhtrace_pytest.py,,\n' > $(PLUGIN_INFO)/RECORD

# what install put there, but the settings file: it may hold the administrator's settings
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(PREFIX)/bin/qhtrace $(DESTDIR)$(UNITDIR)/qhtrace-monitor.service \
		$(DESTDIR)$(DATADIR)/qhtrace-alerts.yml $(DESTDIR)$(PYDIR)/qhtrace_pytest.py
	$(Q)rm -rf $(PLUGIN_INFO)
	$(Q)rmdir $(DESTDIR)$(DATADIR) 2>/dev/null || true

clean:
	$(call msg,CLEAN,$(OUTPUT) $(SAN_OUTPUT))
	$(Q)rm -rf $(OUTPUT) $(SAN_OUTPUT)

-include $(wildcard $(OUTPUT)/bpf/*.d $(OUTPUT)/user/*.d $(OUTPUT)/tests/*.d \
	$(FUZZ_DIR)/user/*.d $(FUZZ_DIR)/*.d)
