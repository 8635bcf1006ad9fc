#!/usr/bin/env python3
"""Helpers of scripts/hot-functions.sh.

  hot-functions.py ran TRAINING_BINARY TRACE_DIR OUT
      names (demangled, without LTO's numeric suffixes) of the functions the
      training run entered, from src/hot_trace.rs's files
  hot-functions.py list RELEASE_BINARY RAN EXTRA OUT
      the ordering file: every function of the release binary whose
      demangled name ran, glibc's IFUNC resolvers, then the symbols in EXTRA
"""
import glob
import re
import struct
import subprocess
import sys


def symbols(binary, demangle):
    flags = ["-C"] if demangle else []
    out = subprocess.run(["nm", *flags, "--defined-only", "-n", binary],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(" ", 2) for line in out.splitlines()]


def plain(name):
    return re.sub(r"(\.llvm\.\d+|\.\d+)+$", "", name)


def ran(binary, trace, out):
    words = open(f"{trace}/pcs", "rb").read()
    anchor_rt, *table = struct.unpack(f"{len(words) // 8}Q", words)
    pcs = table[0::2]  # (function address, flags) pairs, one per guard
    hit = bytearray(len(pcs) + 1)
    for path in glob.glob(f"{trace}/hits.*"):
        for i, b in enumerate(open(path, "rb").read()[: len(hit)]):
            hit[i] |= b
    names = {}
    for addr, kind, name in symbols(binary, demangle=True):
        if kind in "tTwWi":
            names.setdefault(int(addr, 16), name)
    anchor = next(a for a, n in names.items() if n == "__sanitizer_cov_pcs_init")
    base = anchor_rt - anchor
    entered = {plain(names[pc - base]) for i, pc in enumerate(pcs, start=1)
               if hit[i] and pc - base in names}
    open(out, "w").write("\n".join(sorted(entered)) + "\n")
    print(f"hot-functions: {len(entered)} of {len(pcs)} functions ran", file=sys.stderr)


def listing(binary, ran_path, extra_path, out):
    entered = set(open(ran_path).read().split("\n"))
    extra = [line for line in open(extra_path).read().split("\n") if line]
    listed = []
    for (_, kind, raw), (_, _, pretty) in zip(symbols(binary, False), symbols(binary, True)):
        if kind == "i" or (kind in "tTwW" and plain(pretty) in entered):
            listed.append(raw)
    seen = set(listed)
    listed += [name for name in extra if name not in seen]
    with open(out, "w") as f:
        f.write("# Functions the engine-facing commands run, placed first in .text by the\n"
                "# release link (--symbol-ordering-file). Made by scripts/hot-functions.sh;\n"
                "# see there why and how.\n")
        f.write("\n".join(listed) + "\n")
    print(f"hot-functions: {len(listed)} symbols listed", file=sys.stderr)


if __name__ == "__main__":
    {"ran": ran, "list": listing}[sys.argv[1]](*sys.argv[2:])
