#!/usr/bin/env python3
"""Checks hull's imports against the layering in docs/ARCHITECTURE.md.

The ```layers block of that file lists hull's top-level modules, one layer
a line, from the top (cli) down to the leaves. A file of src/ may name
(`use crate::x`, or a `crate::x::...` path in its code) only modules on
lower lines, and its own module. An import sideways or upward is reported
with the file and the name, and the script exits 1. `make lint` runs it.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def layers():
    text = open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")).read()
    m = re.search(r"```layers\n(.*?)```", text, re.S)
    if not m:
        sys.exit("check-layers: no ```layers block in docs/ARCHITECTURE.md")
    rank = {}
    lines = [l.split("#")[0].split() for l in m.group(1).splitlines()]
    lines = [l for l in lines if l]
    for i, mods in enumerate(lines):
        for mod in mods:
            rank[mod] = len(lines) - i  # the top line ranks highest
    return rank


def expand(tree):
    """`a::{b, c::{d}}` -> ["a::b", "a::c::d"]."""
    i = tree.find("{")
    if i < 0:
        return [tree.strip()]
    prefix, inner = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [prefix + x for p in parts if p.strip() for x in expand(p.strip())]


def named_modules(text):
    text = re.sub(r"//[^\n]*", "", text)
    names = set()
    for m in re.finditer(r"\buse\s+crate::([^;]*);", text, re.S):
        for path in expand(m.group(1)):
            names.add(path.split("::")[0].split(" as ")[0].strip())
    for m in re.finditer(r"(?<![$\w])crate::([a-z_][a-z_0-9]*)", text):
        names.add(m.group(1))
    return names - {"self", "{", ""}


def main():
    rank = layers()
    src = os.path.join(ROOT, "src")
    bad = []
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            if rel in ("lib.rs", "main.rs"):
                continue
            own = rel.split(os.sep)[0].removesuffix(".rs")
            if own not in rank:
                bad.append(f"src/{rel}: module {own!r} is on no line of the layers block")
                continue
            for name in sorted(named_modules(open(path).read())):
                if name == own:
                    continue
                if name not in rank:
                    bad.append(f"src/{rel}: crate::{name} is on no line of the layers block")
                elif rank[name] >= rank[own]:
                    way = "sideways" if rank[name] == rank[own] else "upward"
                    bad.append(f"src/{rel}: crate::{name} is {way} of {own}")
    for b in bad:
        print(b)
    if bad:
        print(f"check-layers: {len(bad)} import(s) against docs/ARCHITECTURE.md's layers")
        return 1
    print(f"check-layers: {len(rank)} modules, every import runs downward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
