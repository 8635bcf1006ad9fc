#!/usr/bin/env bash
# deb-test.sh PACKAGE.deb: installs the package with dpkg -i and checks it as
# someone who installs it meets it: `hull --version`, `man -w hull` and
# `man -w hull-create`, bash completion of `hull cre<TAB>`, zsh and fish
# completion files in their vendor directories. Removes the package again
# (dpkg -r) unless hull was installed before the test.
set -euo pipefail
deb=$(readlink -f "$1")
had=0
dpkg-query -W -f='${Status}' hull 2>/dev/null | grep -q 'ok installed' && had=1
cleanup() { [[ $had == 1 ]] || dpkg -r hull >/dev/null; }
trap cleanup EXIT
fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }

dpkg -i "$deb" >/dev/null
echo "deb-test: installed $(dpkg-query -W -f='${Package} ${Version} ${Architecture}' hull)"
out=$(/usr/sbin/hull --version) || fail "hull --version"
grep -q '^hull version' <<<"$out" || fail "hull --version says: $out"
grep -q '^spec: ' <<<"$out" || fail "hull --version has no spec line: $out"
echo "deb-test: hull --version: $(tr '\n' ';' <<<"$out")"
for page in hull hull-create hull-exec; do
    m=$(man -w "$page") || fail "man -w $page"
    echo "deb-test: man -w $page: $m"
done
MANWIDTH=80 man hull-create 2>/dev/null | grep -q -- '--console-socket' || fail "hull-create(8) lacks --console-socket"
# Completion as an interactive bash runs it: bash-completion loads
# /usr/share/bash-completion/completions/hull on demand.
words=$(bash -c '
    source /usr/share/bash-completion/bash_completion
    _completion_loader hull
    COMP_WORDS=(hull cre); COMP_CWORD=1; COMP_LINE="hull cre"; COMP_POINT=${#COMP_LINE}
    $(complete -p hull | sed "s/.*-F \([^ ]*\) .*/\1/") hull cre hull
    echo "${COMPREPLY[@]}"') || fail "bash completion"
[[ $words == create ]] || fail "bash completion of 'hull cre<TAB>' gives '$words', not 'create'"
echo "deb-test: bash completion of 'hull cre<TAB>': $words"
for f in /usr/share/zsh/vendor-completions/_hull /usr/share/fish/vendor_completions.d/hull.fish; do
    [[ -s $f ]] || fail "$f missing"
done
grep -q 'create' /usr/share/fish/vendor_completions.d/hull.fish || fail "fish completion lacks create"
echo "deb-test: ok (dpkg -i, --version, man pages, bash/zsh/fish completions)"
