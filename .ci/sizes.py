#!/usr/bin/env python3
"""Reports the Rust files and functions that outgrew the house limits.

Non-test code (anything outside `tests/` folders, `#[cfg(test)]` modules, inline or in a file of
their own, and `#[test]` functions):
a file longer than FILE_LINES, a function longer than FN_LINES (from its `fn` line to its closing
brace). Test files (under a `tests/` folder): longer than TEST_FILE_LINES; they are split into
modules by topic instead. Comments and string literals are read as such, so a brace in a string
does not confuse the count.

Usage: sizes.py [ROOT]   (the files git tracks below ROOT; exit 1 when anything is over)
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_cycles import strip  # noqa: E402  (same comment/string stripping, same line numbers)

FILE_LINES = 600
TEST_FILE_LINES = 700
FN_LINES = 80


def rust_files(root):
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.rs"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    return [os.path.join(root, f) for f in out.split() if os.path.exists(os.path.join(root, f))]


def test_modules(root, paths):
    """Files that are `#[cfg(test)] mod name;` of another file: test code, like `tests/`."""
    out = set()
    for path in paths:
        with open(os.path.join(root, path), encoding="utf-8") as fh:
            code = strip(fh.read())
        base = os.path.dirname(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in ("lib", "main", "mod"):
            base = os.path.join(base, stem)
        for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
            for child in (m.group(1) + ".rs", os.path.join(m.group(1), "mod.rs")):
                out.add(os.path.normpath(os.path.join(base, child)))
    return out


def is_test_file(path, tests):
    return "tests" in path.split(os.sep) or os.path.normpath(path) in tests


def closing(code, open_at):
    """Index of the brace that closes the one at `open_at`."""
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code) - 1


def test_spans(code):
    """Character spans of `#[cfg(test)]` items and `#[test]`-like functions."""
    spans = []
    for m in re.finditer(r"#\[(cfg\(test\)|test|tokio::test[^\]]*)\]", code):
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # `#[cfg(test)] mod x;` or `use`: a file of its own, or nothing to skip
        spans.append((m.start(), closing(code, brace)))
    return spans


def long_functions(code):
    """(name, first line, line count) of every function body, nested ones included."""
    out = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", code):
        # The body opens at the first `{` after the signature, unless a `;` ends it first
        # (a trait method without a body). Generic bounds hold no braces in this code base.
        rest = code[m.end():]
        brace, semi = rest.find("{"), rest.find(";")
        if brace < 0 or (0 <= semi < brace):
            continue
        start = m.end() + brace
        end = closing(code, start)
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, end) + 1
        out.append((m.group(1), first, last - first + 1, m.start()))
    return out


def main(argv):
    root = argv[0] if argv else "."
    over = []
    paths = sorted(rust_files(root))
    tests = test_modules(root, [os.path.relpath(p, root) for p in paths])
    for path in paths:
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        lines = text.count("\n") + (not text.endswith("\n"))
        if is_test_file(rel, tests):
            if lines > TEST_FILE_LINES:
                over.append(f"{rel}: test file of {lines} lines (limit {TEST_FILE_LINES})")
            continue
        if lines > FILE_LINES:
            over.append(f"{rel}: file of {lines} lines (limit {FILE_LINES})")
        code = strip(text)
        spans = test_spans(code)
        for name, first, count, at in long_functions(code):
            if count > FN_LINES and not any(a <= at <= b for a, b in spans):
                over.append(f"{rel}:{first}: fn {name} of {count} lines (limit {FN_LINES})")
    for line in over:
        print(line)
    print(f"sizes: {len(over)} over the limits (file {FILE_LINES}, test file {TEST_FILE_LINES}, "
          f"fn {FN_LINES} lines)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
