#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for FUZZ_SECONDS (default 60) and prints
# the executions per target. New inputs go to fuzz/work/<target>/ (ignored by
# git); the checked-in seeds in fuzz/corpus/<target>/ are read, not written.
# Crashes land in fuzz/artifacts/<target>/; the script exits non-zero on one.
#
#   scripts/fuzz.sh [target...]     (default: every target)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/fuzz"
secs=${FUZZ_SECONDS:-60}
CARGO=${CARGO:-cargo}

if ! $CARGO +nightly fuzz --version >/dev/null 2>&1; then
	echo "fuzz: needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz)" >&2
	exit 1
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	mapfile -t targets < <($CARGO +nightly fuzz list)
fi

$CARGO +nightly fuzz build
rc=0
summary=()
for t in "${targets[@]}"; do
	mkdir -p "work/$t"
	log="work/$t.log"
	echo "fuzz: $t for ${secs}s"
	if $CARGO +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
		-max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | awk '{print $2}')
		summary+=("$t: ${runs:-?} executions in ${secs}s")
	else
		rc=1
		summary+=("$t: FAILED (see fuzz/$log and fuzz/artifacts/$t/)")
		tail -40 "$log"
	fi
done
printf '%s\n' "${summary[@]}"
exit $rc
