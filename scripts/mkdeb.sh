#!/usr/bin/env bash
# mkdeb.sh ROOT OUT_DIR: packs the tree `make install PREFIX=/usr
# DESTDIR=ROOT` wrote into OUT_DIR/hull_VERSION_ARCH.deb with dpkg-deb
# (binary, man pages, completions, docs). Depends comes from the binary's
# NEEDED libraries and the packages that ship them here.
set -euo pipefail
root=$1 out=$2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
bin=$root/usr/sbin/hull
[[ -x $bin ]] || { echo "mkdeb: $bin missing (make install PREFIX=/usr DESTDIR=$root)" >&2; exit 1; }

depends=()
while read -r lib; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ { print $NF; exit }')
    [[ -n $path ]] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1) ||
        pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [[ -n $pkg ]] || { echo "mkdeb: no package ships $lib" >&2; exit 1; }
    if [[ $pkg == libc6 ]]; then
        # the newest glibc symbol version the binary uses
        glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
        pkg="libc6 (>= $glibc)"
    fi
    printf '%s\n' "${depends[@]}" | grep -qxF "$pkg" || depends+=("$pkg")
done < <(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')

mkdir -p "$root/DEBIAN" "$out"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
cat >"$root/DEBIAN/control" <<CONTROL
Package: hull
Version: $version
Architecture: $arch
Maintainer: hull developers <hull@users.noreply.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $(IFS=,; echo "${depends[*]}" | sed 's/,/, /g')
Section: admin
Priority: optional
Description: OCI-compliant low-level container runtime
 hull creates and runs containers from OCI bundles, as runc does, for
 engines such as containerd, podman, Docker, CRI-O and Buildah.
 This package holds the hull binary, its man pages (hull(8) and one page
 per command) and bash, zsh and fish completions.
CONTROL
deb=$out/hull_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "mkdeb: wrote $deb ($(du -h "$deb" | cut -f1); Depends: $(IFS=,; echo "${depends[*]}"))"
