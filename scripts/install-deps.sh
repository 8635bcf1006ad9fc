#!/usr/bin/env bash
# Install what hull's build, tests and demo need on a Debian machine.
#
#   scripts/install-deps.sh [EXTRA_DEB_PACKAGE...]
#
# Debian packages: busybox-static (test/demo rootfs), iproute2 and kmod (network
# and module tests), python3 (bundle/JSON editing), python3-jsonschema (the
# features document is validated against the spec's schema), uidmap (newuidmap
# and newgidmap for rootless id ranges), libseccomp-dev and pkg-config (the
# differential test compares hull's seccomp BPF with libseccomp's), libc6-dev
# (static glibc for the in-container seccomp probe), criu (checkpoint/restore,
# tested in the cgroup v2 VM), runc (the reference runtime tests/differential
# compares hull with) and crun (a second runtime to compare by hand), plus any
# extra package names
# given as arguments. Packages that are already installed are skipped quickly
# (dpkg-query); `apt-get update` runs at most once, and only if something is
# missing. Also makes sure the Rust toolchain has rustfmt and clippy when it is
# managed by rustup.
set -euo pipefail

PACKAGES=(busybox-static iproute2 kmod python3 python3-jsonschema uidmap libseccomp-dev pkg-config libc6-dev criu runc crun "$@")

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

missing=()
for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
else
    echo "install-deps: Debian packages present: ${PACKAGES[*]}" >&2
fi

# Rust components used by `make lint`.
if [[ -z ${CARGO_HOME:-} && -d $HOME/.cargo/bin ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    want=()
    for c in rustfmt clippy; do
        grep -q "^$c" <<<"$installed" || want+=("$c")
    done
    if ((${#want[@]})); then
        echo "install-deps: rustup component add ${want[*]}" >&2
        rustup component add "${want[@]}"
    fi
else
    for t in rustfmt cargo-clippy; do
        command -v "$t" >/dev/null 2>&1 ||
            echo "install-deps: warning: $t not found and no rustup to add it" >&2
    done
fi

# The rootless tests run hull as this unprivileged user, with a subordinate
# id range for newuidmap/newgidmap (tests/integration/rootless.rs makes the
# same set-up when it is missing).
ROOTLESS_USER=hull-rootless
if [[ $(id -u) -eq 0 ]]; then
    if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
        echo "install-deps: adding user $ROOTLESS_USER for the rootless tests" >&2
        useradd --no-create-home --shell /usr/sbin/nologin --comment "hull rootless tests" "$ROOTLESS_USER"
    fi
    grep -q "^$ROOTLESS_USER:" /etc/subuid 2>/dev/null ||
        usermod --add-subuids 300000-365535 "$ROOTLESS_USER"
    grep -q "^$ROOTLESS_USER:" /etc/subgid 2>/dev/null ||
        usermod --add-subgids 300000-365535 "$ROOTLESS_USER"
fi
