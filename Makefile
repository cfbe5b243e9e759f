# treeprof build. `make` builds ./treeprof; `make test` and `make demo` install what is
# missing first (make deps), so a fresh Debian bookworm machine needs nothing else.
OUTPUT     := .output
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
ARCH       := x86
V          ?= 0
Q          := $(if $(filter 1,$(V)),,@)
msg         = $(if $(filter 1,$(V)),,@printf '  %-8s %s\n' "$(1)" "$(2)";)

CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	      -D_GNU_SOURCE -MMD -MP -Iinclude -Iuser -I$(OUTPUT)
# -liberty: the C++ demangler (user/lib/demangle.c), linked statically from libiberty-dev.
LDLIBS     := -lbpf -lelf -lz -lpthread -liberty
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ivmlinux -Ibpf -MMD -MP

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# user/: the layers (README "Architecture"; make layers-check enforces the include rule).
# The sampler in user/shim/ is not part of treeprof: it has its own rules below.
USER_DIRS  := lib profile symbols trace report ui
USER_SRCS  := $(wildcard user/*.c $(patsubst %,user/%/*.c,$(USER_DIRS)))
USER_OBJS  := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# Only the files that include a skeleton wait for it (the first build has no .d files yet).
SKEL_USERS := $(patsubst user/%.c,%,$(shell grep -l 'skel\.h"' $(USER_SRCS)))
# The commands (main.c, cmd*.c): what the unit tests and fuzzers do not link.
CMD_OBJS   := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(wildcard user/*.c))
LIB_OBJS   := $(filter-out $(CMD_OBJS),$(USER_OBJS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
# unit.c: the harness; fixture.c: what the profile and report tests share.
UNIT_OBJS  := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%.o,$(UNIT_SRCS)) $(OUTPUT)/tests/unit.o \
	      $(OUTPUT)/tests/fixture.o

PYTEST     := /usr/bin/python3 -m pytest

# The version, and the commit it is built from (treeprof --version; the package's version).
VERSION    := 0.1
GIT_COMMIT := $(shell git -C $(CURDIR) describe --always --dirty 2>/dev/null)

.DELETE_ON_ERROR:

.PHONY: apps
.PHONY: all deps demo test test-kernels unit unit-san integration-san fuzz fuzz-corpus integration \
	bench format format-check clean

all: treeprof libtreeprof-mem.so

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c vmlinux/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@
$(foreach o,$(SKEL_USERS),$(OUTPUT)/user/$(o).o $(OUTPUT)/san/$(o).o $(OUTPUT)/fuzzobj/$(o).o): $(SKELS)

treeprof: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# test_kbtf reads the object through its skeleton.
$(OUTPUT)/tests/test_kbtf.o $(OUTPUT)/san/test_kbtf: | $(SKELS)

$(OUTPUT)/tests/%.o: tests/unit/%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c $< -o $@

$(OUTPUT)/tests/test_%: $(OUTPUT)/tests/test_%.o $(OUTPUT)/tests/unit.o $(OUTPUT)/tests/fixture.o \
		       $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# --- version: .output/version.h changes only when the version or the commit does, so a new
# commit rebuilds main.o alone and an unchanged one rebuilds nothing.
# Where git cannot answer (root in a user's clone: "dubious ownership") an existing header is
# kept, so that sudo make install does not rebuild the binary as root.
$(OUTPUT)/version.h: FORCE | $(OUTPUT)
	$(Q)[ -z '$(GIT_COMMIT)' ] && [ -f $@ ] && grep -q '"$(VERSION)"' $@ || \
	printf '#define TREEPROF_VERSION "%s"\n#define TREEPROF_COMMIT "%s"\n' \
		'$(VERSION)' '$(or $(GIT_COMMIT),unknown)' > $@.tmp
	$(Q)[ -f $@.tmp ] || exit 0; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; echo '  GEN      $@'; fi
$(OUTPUT)/user/main.o $(OUTPUT)/san/main.o: $(OUTPUT)/version.h
.PHONY: FORCE
FORCE:
# --- end version

# --- linetable cross-check (python work): tests/integration/test_linetable.py feeds it the
# line tables of every installed CPython. Built from the decoder alone, no skeleton needed.
LINETABLE_CHECK := $(OUTPUT)/tests/linetable_check
$(LINETABLE_CHECK): tests/tools/linetable_check.c user/symbols/linetable.c user/symbols/linetable.h | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(filter %.c,$^) -o $@
# --- end linetable cross-check

# --- report benchmark: a synthetic 1 M-sample recording written by the real profile and
# datafile code (tests/bench_report.py builds and runs it).
GEN_RECORDING := $(OUTPUT)/tests/gen_recording
GEN_RECORDING_SRCS := $(addprefix user/profile/,profile.c intern.c profile_mem.c datafile.c) \
		      user/lib/fileio.c user/lib/hash.c user/lib/vec.c
$(GEN_RECORDING): tests/tools/gen_recording.c $(GEN_RECORDING_SRCS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(filter %.c,$^) -lz -o $@
# --- end report benchmark

# --- HTML report templates (report_html.c, report_diff_html.c): user/X.html stays a readable
# page in the repo and becomes the C string X_template in $(OUTPUT)/X_tmpl.h, one literal
# per line, with sed escaping '\' and '"'. What both pages share is in report_common.css
# and report_common.js, put in place of the lines @@TREEPROF_COMMON_CSS@@ and
# @@TREEPROF_COMMON_JS@@ by the first sed. No build dependency beyond sh and sed.
REPORT_COMMON := user/report/report_common.css user/report/report_common.js
$(OUTPUT)/%_tmpl.h: user/report/%.html $(REPORT_COMMON) | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q){ echo '/* generated from $< by the Makefile: do not edit */'; \
	  echo 'static const char $*_template[] ='; \
	  sed -e '/^@@TREEPROF_COMMON_CSS@@$$/{' -e 'r user/report/report_common.css' -e 'd' -e '}' \
	      -e '/^@@TREEPROF_COMMON_JS@@$$/{' -e 'r user/report/report_common.js' -e 'd' -e '}' $< | \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/'; \
	  echo ';'; } > $@
$(OUTPUT)/user/report/report_html.o $(OUTPUT)/san/report/report_html.o \
	$(OUTPUT)/fuzzobj/report/report_html.o: \
	$(OUTPUT)/report_html_tmpl.h
$(OUTPUT)/user/report/report_diff_html.o $(OUTPUT)/san/report/report_diff_html.o \
	$(OUTPUT)/fuzzobj/report/report_diff_html.o: $(OUTPUT)/report_diff_html_tmpl.h
# --- end HTML report template

# --- probe cost tool (make bench, tests/bench_mem.py): a counting uprobe at a chosen offset.
UPROBE_COST := $(OUTPUT)/tests/uprobe_cost
$(UPROBE_COST): tests/tools/uprobe_cost.c $(OUTPUT)/probecost.skel.h | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $< $(LDLIBS) -o $@
# --- end probe cost tool

# Debian packages, installed when missing: DEPS_BUILD to build treeprof and run the demo
# (make demo), DEPS_TEST for the tests as well (make test). One line says what is installed;
# apt's output goes to $(DEPS_LOG), which an error points to.
DEPS_BUILD := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libiberty-dev pkg-config make \
	      gcc python3
DEPS_TEST  := $(DEPS_BUILD) g++ libclang-rt-14-dev python3-pytest debootstrap tmux clang-format \
	      golang-go chromium qemu-system-x86 busybox-static man-db groff-base dpkg-dev \
	      python3-torch python3-numpy gunicorn python3-flask python3-celery python3-redis \
	      redis-server
DEPS_LOG   := $(OUTPUT)/deps.log
define install-missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	mkdir -p $(OUTPUT); echo "deps: installing" $$missing "(apt's output: $(DEPS_LOG))"; \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } \
		>$(DEPS_LOG) 2>&1 || { tail -n 5 $(DEPS_LOG) >&2; \
		echo "deps: apt-get failed, see $(DEPS_LOG) (it needs root: sudo make ...)" >&2; exit 1; }
endef
.PHONY: deps-build deps-test
deps-build:
	$(call install-missing,$(DEPS_BUILD))
deps-test deps:
	$(call install-missing,$(DEPS_TEST))

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

integration: treeprof $(LINETABLE_CHECK)
	$(PYTEST) -q tests/integration

# The test bed of real programs (tests/apps/): PyTorch, gunicorn+Flask, Celery on redis,
# numpy in a pool, a pyenv shim; launched and attached, as their users run them.
apps: treeprof $(SHIM_LIB)
	$(PYTEST) -q tests/apps

test: deps-test
	$(MAKE) format-check
	$(MAKE) layers-check
	$(MAKE) man-check
	$(MAKE) treeprof $(UNIT_BINS)
	$(MAKE) unit
	$(MAKE) shim-check
	$(MAKE) unit-san
	$(MAKE) fuzz-corpus
	$(MAKE) integration-san
	$(MAKE) integration
	$(MAKE) apps

# The kernel matrix: Debian's own kernels booted under qemu, the smoke subset of the
# integration tests run inside each (tests/kernels.py, tests/integration/test_kernels.py).
# make test boots 6.1 and 6.12 as part of integration; this adds bullseye's 5.10.
TEST_KERNELS ?= 5.10 6.1 6.12
test-kernels: deps-test
	$(MAKE) treeprof libtreeprof-mem.so
	TREEPROF_TEST_KERNELS="$(TEST_KERNELS)" $(PYTEST) -v tests/integration/test_kernels.py

demo: deps-build
	$(MAKE) treeprof libtreeprof-mem.so
	./tests/demo.sh

bench: deps-test
	$(MAKE) treeprof libtreeprof-mem.so $(UPROBE_COST)
	/usr/bin/python3 tests/bench.py
	/usr/bin/python3 tests/bench_mem.py
	/usr/bin/python3 tests/bench_apps.py
	/usr/bin/python3 tests/bench_live.py
	/usr/bin/python3 tests/bench_report.py

# --- stress (tests/stress.py): a fork storm, 200 live processes, a long run's memory; not
# part of make test. STRESS_LONG_SECONDS sets the long run (default 600).
.PHONY: stress
stress: treeprof
	/usr/bin/python3 tests/stress.py
# --- end stress

# --- memory sampler (user/shim/): ./libtreeprof-mem.so, which `record --mem` preloads into a
# tree it launches. Not part of treeprof (USER_SRCS is user/*.c only). shim-check runs
# tests/shim/shim_check.c under it at rate 1 and at the default rate, and once without it
# (tests/shim/run.sh); the integration tests need the library next to ./treeprof.
SHIM_LIB    := libtreeprof-mem.so
SHIM_SRCS   := $(wildcard user/shim/*.c)
SHIM_OBJS   := $(patsubst user/shim/%.c,$(OUTPUT)/shim/%.o,$(SHIM_SRCS))
SHIM_CFLAGS := -O2 -g -fno-omit-frame-pointer -fPIC -fvisibility=hidden -ftls-model=initial-exec -Wall -Wextra \
	       -std=gnu11 -D_GNU_SOURCE -MMD -MP -Iinclude -Iuser/shim
SHIM_CHECK  := $(OUTPUT)/tests/shim_check
SHIM_FORMAT := user/shim/*.c user/shim/*.h tests/shim/*.c tests/workloads/memops.c
.PHONY: shim-check

$(OUTPUT)/shim:
	$(Q)mkdir -p $@

$(OUTPUT)/shim/%.o: user/shim/%.c | $(OUTPUT)/shim
	$(call msg,CC-SHIM,$@)
	$(Q)$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(SHIM_LIB): $(SHIM_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) -shared -Wl,-z,defs -Wl,-z,now $^ -lm -lpthread -o $@

$(SHIM_CHECK): tests/shim/shim_check.c tests/unit/unit.c tests/unit/unit.h include/treeprof.h \
	       | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -O1 -g -fno-builtin -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -Iinclude -Itests/unit \
		$(filter %.c,$^) -lpthread -ldl -o $@

shim-check: $(SHIM_LIB) $(SHIM_CHECK)
	tests/shim/run.sh $(CURDIR)/$(SHIM_LIB) $(SHIM_CHECK)

integration integration-san: $(SHIM_LIB)

-include $(wildcard $(OUTPUT)/shim/*.d)
# --- end memory sampler

# --- install: PREFIX (default /usr/local) and DESTDIR (a staging root, as packaging does).
# The sampler goes to PREFIX/lib/treeprof/, where treeprof finds it relative to its own
# binary (user/trace/memtrace.c); the man pages get PREFIX and VERSION substituted and gzipped.
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      := $(PREFIX)/bin
PKGLIBDIR   := $(PREFIX)/lib/treeprof
MAN1DIR     := $(PREFIX)/share/man/man1
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
MAN_PAGES   := $(wildcard user/man/*.1)
.PHONY: install uninstall man-check deb

install: treeprof $(SHIM_LIB)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(MAN1DIR) \
		$(DESTDIR)$(BASHCOMPDIR)
	$(Q)install -m 0755 treeprof $(DESTDIR)$(BINDIR)/treeprof
	$(Q)install -m 0644 $(SHIM_LIB) $(DESTDIR)$(PKGLIBDIR)/$(SHIM_LIB)
	$(Q)for p in $(MAN_PAGES); do \
		sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $$p | gzip -9n \
			> $(DESTDIR)$(MAN1DIR)/$${p##*/}.gz && \
		chmod 0644 $(DESTDIR)$(MAN1DIR)/$${p##*/}.gz || exit 1; \
	done
	$(Q)install -m 0644 user/completion/treeprof $(DESTDIR)$(BASHCOMPDIR)/treeprof

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/treeprof $(DESTDIR)$(PKGLIBDIR)/$(SHIM_LIB) \
		$(DESTDIR)$(BASHCOMPDIR)/treeprof $(patsubst user/man/%,$(DESTDIR)$(MAN1DIR)/%.gz,$(MAN_PAGES))
	$(Q)rmdir $(DESTDIR)$(PKGLIBDIR) 2>/dev/null || true

# The man pages render without warnings and document every option of every --help; the
# completion offers the commands and the values (tests/integration/test_install.py).
man-check: treeprof
	$(PYTEST) -q tests/integration/test_install.py -k "man_page or completion"

# make deb: DEB_DIR/treeprof_VERSION_ARCH.deb (DEB_DIR: default .) from a staged install
# with PREFIX=/usr; Depends from dpkg-shlibdeps on the binaries (libbpf1, libelf1, zlib1g,
# libc6 on bookworm).
DEB_ARCH  = $(shell dpkg --print-architecture)
DEB_DIR   ?= .
DEB_FILE   = $(DEB_DIR)/treeprof_$(VERSION)_$(DEB_ARCH).deb
DEB_STAGE := $(OUTPUT)/deb
DEB_ROOT  := $(DEB_STAGE)/debian/treeprof
deb: treeprof $(SHIM_LIB)
	$(call install-missing,dpkg-dev)
	$(Q)rm -rf $(DEB_STAGE)
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr
	$(Q)mkdir -p $(DEB_ROOT)/DEBIAN && \
		printf 'Source: treeprof\n\nPackage: treeprof\nArchitecture: any\n' \
		> $(DEB_STAGE)/debian/control
	$(Q)depends=$$(cd $(DEB_STAGE) && dpkg-shlibdeps -O -edebian/treeprof/usr/bin/treeprof \
		-edebian/treeprof/usr/lib/treeprof/$(SHIM_LIB)) && depends=$${depends#shlibs:Depends=} && \
	{ echo "Package: treeprof"; echo "Version: $(VERSION)"; echo "Architecture: $(DEB_ARCH)"; \
	  echo "Maintainer: treeprof maintainers <maintainers@users.noreply.h-seed-8fbe4e73.example>"; \
	  echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)"; \
	  echo "Depends: $$depends"; echo "Section: devel"; echo "Priority: optional"; \
	  echo "Description: eBPF CPU and memory profiler for whole Python process trees"; \
	  echo " treeprof samples a process and all its descendants (multiprocessing workers,"; \
	  echo " subprocesses, exec'd helpers, children born later) with the Python function,"; \
	  echo " file and line of each sample, and with --mem traces their allocations."; \
	  echo " Built from git $(or $(GIT_COMMIT),unknown)."; \
	} > $(DEB_ROOT)/DEBIAN/control
	$(call msg,DEB,$(DEB_FILE))
	$(Q)dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE) >/dev/null
# --- end install

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*/*.c user/*/*.h include/*.h tests/unit/*.c tests/unit/*.h \
		$(SHIM_FORMAT)

# The include rule of user/'s layers and no include cycle in user/ or bpf/ (tests/tools/layers.py).
.PHONY: layers-check
layers-check:
	/usr/bin/python3 tests/tools/layers.py

format-check:
	clang-format --dry-run --Werror bpf/*.c bpf/*.h user/*.c user/*/*.c user/*/*.h include/*.h \
		tests/unit/*.c tests/unit/*.h $(SHIM_FORMAT)

clean:
	rm -rf $(OUTPUT) treeprof libtreeprof-mem.so treeprof_*.deb

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/tests/*.d)

# --- Sanitizers and fuzzing (clang; ASan, UBSan and libFuzzer from libclang-rt-14-dev) ---
# unit-san: every unit test again, built with AddressSanitizer and UBSan (any report fails).
# fuzz: each harness in tests/fuzz/ for FUZZ_SECONDS; fuzz-corpus: the checked-in corpus
# through each harness once (what make test runs).
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	       -fno-omit-frame-pointer -g -O1
SAN_CFLAGS   = $(filter-out -O2 -g -MMD -MP,$(CFLAGS)) $(SAN_FLAGS)
SAN_OBJS    := $(patsubst $(OUTPUT)/user/%.o,$(OUTPUT)/san/%.o,$(LIB_OBJS))
SAN_CMD_OBJS := $(patsubst $(OUTPUT)/user/%.o,$(OUTPUT)/san/%.o,$(CMD_OBJS))
FUZZ_OBJS   := $(patsubst $(OUTPUT)/user/%.o,$(OUTPUT)/fuzzobj/%.o,$(LIB_OBJS))
SAN_UNITS   := $(patsubst tests/unit/%.c,$(OUTPUT)/san/%,$(UNIT_SRCS))
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

.SECONDARY: $(SAN_OBJS) $(FUZZ_OBJS) $(OUTPUT)/san/unit.o $(OUTPUT)/san/fixture.o $(SAN_CMD_OBJS)

$(OUTPUT)/san $(OUTPUT)/fuzzobj $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/san/%.o: user/%.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -c $< -o $@

$(OUTPUT)/san/unit.o $(OUTPUT)/san/fixture.o: $(OUTPUT)/san/%.o: tests/unit/%.c | $(OUTPUT)/san
	$(Q)$(CLANG) $(SAN_CFLAGS) -Itests/unit -c $< -o $@

# treeprof itself under ASan+UBSan, for the integration tests that exercise its error paths.
$(OUTPUT)/san/treeprof: $(SAN_CMD_OBJS) $(SAN_OBJS)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/san/test_%: tests/unit/test_%.c $(OUTPUT)/san/unit.o $(OUTPUT)/san/fixture.o $(SAN_OBJS)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -Itests/unit $^ $(LDLIBS) -o $@

$(OUTPUT)/fuzzobj/%.o: user/%.c | $(OUTPUT)/fuzzobj
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) | $(OUTPUT)/fuzz
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

# The integration tests that drive treeprof's error and fault paths, against an ASan+UBSan
# build of treeprof (any sanitizer report makes it exit non-zero or print, and fail them).
SAN_INTEGRATION := tests/integration/test_tree.py tests/integration/test_errors.py \
	tests/integration/test_faults.py tests/integration/test_hostile.py \
	tests/integration/test_namespaces.py tests/integration/test_privileges.py \
	tests/integration/test_report_formats.py tests/integration/test_memory.py \
	tests/integration/test_outputs.py tests/integration/test_report_diff.py \
	tests/integration/test_utf8.py
# The sanitized treeprof is not next to the sampler: TREEPROF_MEM_SHIM says where it is.
integration-san: $(OUTPUT)/san/treeprof
	TREEPROF_BIN=$(CURDIR)/$(OUTPUT)/san/treeprof TREEPROF_MEM_SHIM=$(CURDIR)/$(SHIM_LIB) \
		$(PYTEST) -q $(SAN_INTEGRATION)

unit-san: $(SAN_UNITS)
	@fail=0; for t in $(SAN_UNITS); do \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t || fail=1; \
	done; exit $$fail

fuzz-corpus: $(FUZZ_BINS)
	@fail=0; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		$$f -runs=0 tests/fuzz/corpus/$$n >/dev/null 2>$(OUTPUT)/fuzz/$$n.log && \
		echo "$$n: corpus ok ($$(ls tests/fuzz/corpus/$$n | wc -l) inputs)" || \
		{ echo "$$n: FAILED, see $(OUTPUT)/fuzz/$$n.log"; fail=1; }; \
	done; exit $$fail

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p $(OUTPUT)/fuzz/new-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-artifact_prefix=$(OUTPUT)/fuzz/$$n- $(OUTPUT)/fuzz/new-$$n \
			tests/fuzz/corpus/$$n || exit 1; \
	done
