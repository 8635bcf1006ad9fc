# hull: build, lint, test, demo and benchmark entry points.
#
#   make build     debug build (target/debug/hull)
#   make release   optimised static build (target/release/hull)
#   make hot-functions  regenerate build/hot-functions.txt (the release link's function order)
#   make deps      Debian packages and Rust components the tests need
#   make demo      run a busybox container with hull
#   make lint      rustfmt check, clippy with warnings as errors (whole workspace),
#                  imports against the layers of docs/ARCHITECTURE.md
#   make test      deps, lint, build, cargo test, then the cgroup v2 subset
#   make test-differential  each tests/differential scenario against runc and hull
#   make test-v2   cgroup v2 tests inside the throwaway VM (../shared/vm)
#   make test-systemd  the systemd cgroup driver's tests, with systemd booted in that VM
#   make engines-test  real engines drive hull, runc as the control (tests/engines)
#                  (+ podman checkpoint/restore in the VM: make engines-checkpoint)
#   make bench     startup benchmark (bench/bench.sh)
#   make fuzz      each cargo-fuzz target for FUZZ_SECONDS (default 60; nightly + cargo-fuzz)
#   make stress    concurrency stress test (STRESS_COUNTS="50 100 200", STRESS_WORKERS=16)
#   make man completions  man pages and bash/zsh/fish completions from the clap definitions
#   make install   release binary, man pages, completions, docs (PREFIX=/usr/local DESTDIR=)
#   make uninstall what `make install` put there (same PREFIX and DESTDIR)
#   make deb       a Debian package in target/deb (dpkg-deb); make deb-test installs and checks it

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO ?= cargo
# Rustup installs cargo in ~/.cargo/bin, which a non-login shell may not have.
ifeq ($(shell command -v $(CARGO) 2>/dev/null),)
  ifneq ($(wildcard $(HOME)/.cargo/bin/cargo),)
    export PATH := $(HOME)/.cargo/bin:$(PATH)
  endif
endif

HULL_DEBUG  := $(CURDIR)/target/debug/hull
# Statically linked in-container checker of the oci-validation tests.
OCI_CHECKER := $(CURDIR)/target/oci-checker/debug/hull-oci-checker
# shared/ sits beside the repository (also in CI's fresh clone).
CGROUP2_VM  := $(CURDIR)/../shared/vm/cgroup2-vm
TEST_THREADS ?= 2
DEMO_DIR    := $(CURDIR)/demo

.PHONY: all build release hot-functions deps demo lint oci-checker test test-differential test-v2 test-systemd engines-test engines-test-v2 engines-checkpoint bench fuzz stress clean \
	man completions install uninstall deb deb-test

all: build

build:
	$(CARGO) build

# The shipped binary: statically linked (no dynamic loader, libm or libgcc_s
# to map and resolve at every start) and linked with the functions the
# engine-facing commands run placed first (build/hot-functions.txt, made by
# scripts/hot-functions.sh), so each invocation maps far less of the text.
# `cargo rustc` gives both to the final link only: proc-macros and build
# scripts stay dynamic. docs/ARCHITECTURE.md ("Start-up cost") has the figures.
RELEASE_FLAGS := -C target-feature=+crt-static \
	-C link-arg=-Wl,--symbol-ordering-file=$(CURDIR)/build/hot-functions.txt
release:
	$(CARGO) rustc --release --bin hull -- $(RELEASE_FLAGS)

hot-functions:
	$(CURDIR)/scripts/hot-functions.sh

deps:
	$(CURDIR)/scripts/install-deps.sh

demo: deps build
	HULL=$(HULL_DEBUG) $(CURDIR)/scripts/mkbundle.sh $(DEMO_DIR)/bundle -- \
		sh -c 'echo "hostname: $$(hostname)"; echo "pid: $$$$"; ls -l /proc/self/ns'
	python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["hostname"]="hull-demo"; json.dump(c,open(p,"w"),indent=2)' \
		$(DEMO_DIR)/bundle/config.json
	mkdir -p $(DEMO_DIR)/root
	cd $(CURDIR) && target/debug/hull --root ./demo/root run -b demo/bundle hull-demo-$$$$

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 $(CURDIR)/scripts/check-layers.py

# The oci-validation runner builds the checker itself when HULL_OCI_CHECKER
# is unset (plain `cargo test`); here it is built once up front.
oci-checker:
	$(CARGO) rustc -p hull-oci-checker --bin hull-oci-checker --target-dir $(CURDIR)/target/oci-checker \
		-- -C target-feature=+crt-static

test: deps lint build oci-checker
	HULL_BIN=$(HULL_DEBUG) HULL_OCI_CHECKER=$(OCI_CHECKER) \
		$(CARGO) test -- --test-threads=$(TEST_THREADS)
	$(MAKE) --no-print-directory test-v2
	$(MAKE) --no-print-directory test-systemd

# `make test` runs it too (cargo test runs every test target); this runs
# only the differential suite (runc from scripts/install-deps.sh).
test-differential: deps build
	HULL_BIN=$(HULL_DEBUG) $(CARGO) test --test differential -- --test-threads=$(TEST_THREADS)

# The host mounts cgroup v1 hierarchies, so the cgroup v2 tests run in a VM
# whose only hierarchy is cgroup v2. The `integration` and `oci-validation`
# test binaries (and the static checker) are built here and run there in one
# VM boot, filtered to the tests whose names contain "cgroup" (plus the
# rootless tests: user namespaces and delegation on pure v2); then the
# guest script fails the run if any cgroup was left behind.
test-v2: oci-checker
	@if [[ ! -e "$(CGROUP2_VM)" ]]; then \
		echo "test-v2: SKIPPED: the cgroup v2 VM script $(CGROUP2_VM) is missing" \
		     "(it comes from shared/vm beside the repository); the cgroup v2 subset was not run."; \
		exit 0; \
	fi; \
	built=$$($(CARGO) test --no-run --message-format=json); \
	exe=$$(python3 $(CURDIR)/scripts/test-executable.py integration <<<"$$built"); \
	oci=$$(python3 $(CURDIR)/scripts/test-executable.py oci-validation <<<"$$built"); \
	echo "test-v2: running $$exe and $$oci in the cgroup v2 VM"; \
	vm="$(CGROUP2_VM)"; [[ -x "$$vm" ]] || vm="bash $$vm"; \
	$$vm --share $(CURDIR) --timeout 1200 --env HULL_BIN=$(HULL_DEBUG) \
		--env HULL_OCI_CHECKER=$(OCI_CHECKER) \
		-- sh $(CURDIR)/scripts/test-v2-guest.sh "$$exe" "$$oci"

# This host runs no systemd: the VM boots one (as PID 1 of a new pid
# namespace, to a small target of its own) and runs, in its namespaces, the
# `systemd_driver` integration tests (HULL_REQUIRE_SYSTEMD makes them fail
# rather than skip there) and containerd with SystemdCgroup = true driving
# hull (the engines are installed first when ../shared/engines is there).
test-systemd: build
	@if [[ ! -e "$(CGROUP2_VM)" ]]; then \
		echo "test-systemd: SKIPPED: the cgroup v2 VM script $(CGROUP2_VM) is missing" \
		     "(it comes from shared/vm beside the repository); the systemd driver tests were not run."; \
		exit 0; \
	fi; \
	if [[ -f "$(ENGINES)/install-deps" ]] && ! command -v containerd-shim-runc-v2 >/dev/null; then \
		bash $(ENGINES)/install-deps; \
	fi; \
	built=$$($(CARGO) test --no-run --message-format=json); \
	exe=$$(python3 $(CURDIR)/scripts/test-executable.py integration <<<"$$built"); \
	echo "test-systemd: running $$exe systemd_driver with systemd in the cgroup v2 VM"; \
	vm="$(CGROUP2_VM)"; [[ -x "$$vm" ]] || vm="bash $$vm"; \
	$$vm --share $(CURDIR) --timeout 900 --env HULL_BIN=$(HULL_DEBUG) \
		-- sh $(CURDIR)/tests/systemd/boot-systemd.sh \
		sh $(CURDIR)/tests/systemd/guest.sh "$$exe" $(HULL_DEBUG) $(ENGINES)

ENGINES ?= $(CURDIR)/../shared/engines

# Real engines drive the built hull, each smoke with runc as the control side
# by side (tests/engines/run-all): containerd (runc-v2 shim) and podman
# (conmon) as root from ../shared/engines, and this repository's smokes
# (tests/engines: rootless podman as a user the smoke creates, Docker,
# Buildah and podman build); on this host
# (cgroup v1/hybrid), then in the cgroup v2 VM (engines-test-v2, one boot).
# The scripts install the engines from Debian's packages themselves.
engines-test: build
	@if [[ ! -d "$(ENGINES)" ]]; then \
		echo "engines-test: SKIPPED: $(ENGINES) is missing (it comes from shared/ beside the repository)"; \
		exit 0; \
	fi; \
	bash $(ENGINES)/install-deps; \
	$(CURDIR)/scripts/install-deps.sh uidmap docker.io buildah; \
	rc=0; \
	ENGINES=$(ENGINES) $(CURDIR)/tests/engines/run-all $(HULL_DEBUG) || rc=1; \
	$(MAKE) --no-print-directory engines-test-v2 || rc=1; \
	$(MAKE) --no-print-directory engines-checkpoint || rc=1; \
	exit $$rc

# The root containerd and podman smokes and the rootless podman smoke (with
# a user cgroup the smoke delegates itself: no systemd there) inside the
# pure cgroup v2 VM, in one boot; state on the VM's own /run. TCG emulation
# makes this the slow part (see docs/engines.md).
engines-test-v2: build
	@if [[ ! -e "$(CGROUP2_VM)" || ! -d "$(ENGINES)" ]]; then \
		echo "engines-test-v2: SKIPPED: $(CGROUP2_VM) or $(ENGINES) is missing" \
		     "(they come from shared/ beside the repository); the engines were not run on cgroup v2."; \
		exit 0; \
	fi; \
	vm="$(CGROUP2_VM)"; [[ -x "$$vm" ]] || vm="bash $$vm"; \
	$$vm --share $(CURDIR) --timeout 2400 --env ENGINES=$(ENGINES) \
		-- $(CURDIR)/tests/engines/v2-guest.sh $(HULL_DEBUG)

# podman container checkpoint/restore through hull, in the cgroup v2 VM
# (CRIU does not work on every host kernel). CKPT_RUNTIMES="$(HULL_DEBUG)
# /usr/sbin/runc" adds runc as the control (about 4 min each under emulation).
CKPT_RUNTIMES ?= $(HULL_DEBUG)
engines-checkpoint: build
	@if [[ ! -e "$(CGROUP2_VM)" || ! -d "$(ENGINES)" ]]; then \
		echo "engines-checkpoint: SKIPPED: $(CGROUP2_VM) or $(ENGINES) is missing (shared/ beside the repository)"; \
		exit 0; \
	fi; \
	command -v podman >/dev/null || bash $(ENGINES)/install-deps; \
	$(CURDIR)/scripts/install-deps.sh; \
	vm="$(CGROUP2_VM)"; [[ -x "$$vm" ]] || vm="bash $$vm"; \
	$$vm --share $(CURDIR) --timeout 1200 --env ENGINES=$(ENGINES) \
		-- bash $(CURDIR)/tests/engines/podman-checkpoint-smoke $(CKPT_RUNTIMES)

bench:
	$(CURDIR)/bench/bench.sh

# The seed corpora also replay on stable in `make test` (tests/fuzz_replay.rs).
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO=$(CARGO) $(CURDIR)/scripts/fuzz.sh

# Not part of `make test`: N containers at once through the whole
# lifecycle plus racing commands on one id, then a leak check.
STRESS_COUNTS ?= 50 100 200
STRESS_WORKERS ?= 16
stress: build
	HULL_BIN=$(HULL_DEBUG) STRESS_COUNTS="$(STRESS_COUNTS)" STRESS_WORKERS=$(STRESS_WORKERS) \
		$(CARGO) test --test stress

# ---------------------------------------------------------------- packaging
# Man pages (hull(8), hull-COMMAND(8)) and completions are written by
# tools/hull-gen from hull's clap definitions, so they follow every flag.
GEN_DIR := $(CURDIR)/target/gen
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/sbin
MANDIR  := $(PREFIX)/share/man/man8
DOCDIR  := $(PREFIX)/share/doc/hull
BASHDIR := $(PREFIX)/share/bash-completion/completions
ZSHDIR  := $(PREFIX)/share/zsh/vendor-completions
FISHDIR := $(PREFIX)/share/fish/vendor_completions.d
DOCS    := README.md docs/engines.md docs/compat.md docs/ARCHITECTURE.md

man completions:
	rm -rf $(GEN_DIR)
	$(CARGO) run --quiet -p hull-gen -- $(GEN_DIR)

install: release man
	install -D -m 0755 target/release/hull $(DESTDIR)$(BINDIR)/hull
	install -d $(DESTDIR)$(MANDIR)
	for m in $(GEN_DIR)/man/*.8; do gzip -9n -c $$m >$(DESTDIR)$(MANDIR)/$${m##*/}.gz; done
	install -D -m 0644 $(GEN_DIR)/completions/hull.bash $(DESTDIR)$(BASHDIR)/hull
	install -D -m 0644 $(GEN_DIR)/completions/_hull $(DESTDIR)$(ZSHDIR)/_hull
	install -D -m 0644 $(GEN_DIR)/completions/hull.fish $(DESTDIR)$(FISHDIR)/hull.fish
	install -d $(DESTDIR)$(DOCDIR)
	for d in $(DOCS); do [[ ! -f $$d ]] || install -m 0644 $$d $(DESTDIR)$(DOCDIR)/; done

# Removes exactly what `make install` writes: the man pages are the ones
# hull-gen names now (a page of a command that no longer exists stays).
uninstall: man
	rm -f $(DESTDIR)$(BINDIR)/hull
	for m in $(GEN_DIR)/man/*.8; do rm -f $(DESTDIR)$(MANDIR)/$${m##*/}.gz; done
	rm -f $(DESTDIR)$(BASHDIR)/hull $(DESTDIR)$(ZSHDIR)/_hull $(DESTDIR)$(FISHDIR)/hull.fish
	rm -rf $(DESTDIR)$(DOCDIR)

# A binary .deb of `make install PREFIX=/usr` (dpkg-deb, no debhelper).
DEB_ROOT := $(CURDIR)/target/deb/root
deb:
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(DEB_ROOT)
	$(CURDIR)/scripts/mkdeb.sh $(DEB_ROOT) $(CURDIR)/target/deb

# Installs the package with dpkg -i and checks it as a user would meet it
# (hull --version, man -w hull, bash completion of `hull cre<TAB>`), then
# removes it again (dpkg -r) when it was not installed before.
deb-test: deb
	$(CURDIR)/scripts/install-deps.sh man-db bash-completion
	$(CURDIR)/scripts/deb-test.sh $(CURDIR)/target/deb/hull_*.deb

clean:
	$(CARGO) clean
	rm -rf --one-file-system $(DEMO_DIR)
