#!/usr/bin/env python3
"""Print the path of a test executable built by cargo.

Reads `cargo test --no-run --message-format=json` on stdin and prints the
executable of the test target named NAME (argv[1]). Exits 1 if none was built.
"""
import json
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: test-executable.py TEST_TARGET_NAME", file=sys.stderr)
        return 2
    name = sys.argv[1]
    found = None
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact":
            continue
        target = msg.get("target", {})
        if (
            target.get("name") == name
            and "test" in target.get("kind", [])
            and msg.get("profile", {}).get("test")
            and msg.get("executable")
        ):
            found = msg["executable"]
    if not found:
        print(f"test-executable.py: no test executable named {name!r} in cargo's output",
              file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
