#!/usr/bin/env python3
"""Crates cargo builds for the host side (proc-macros, build dependencies and
what they link), as rustc --crate-name spells them; read from `cargo
metadata` on stdin. Without --target such a crate is one build for both
sides, so scripts/hot-trace-rustc must leave it uninstrumented."""
import json
import sys

meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}


def is_proc_macro(pkg):
    return any("proc-macro" in t["kind"] for t in pkg["targets"])


host = set()
todo = [i for i in nodes if is_proc_macro(packages[i])]
for node in nodes.values():
    for dep in node["deps"]:
        if any(k["kind"] == "build" for k in dep["dep_kinds"]):
            todo.append(dep["pkg"])
while todo:
    pkg_id = todo.pop()
    if pkg_id in host:
        continue
    host.add(pkg_id)
    todo.extend(d["pkg"] for d in nodes[pkg_id]["deps"])
names = {
    t["name"].replace("-", "_")
    for i in host
    for t in packages[i]["targets"]
    if set(t["kind"]) & {"lib", "rlib", "proc-macro"}
}
print(" ".join(sorted(names)))
