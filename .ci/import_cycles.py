#!/usr/bin/env python3
"""Lists the edges between the files of a Rust crate and the cycles among them.

An edge A -> B means file A names an item that lives in file B: through `use crate::...`,
`use super::...`, a path such as `crate::x::y` or `super::y` in the code, or a path through a child
module the file declares (`mod create;` ... `create::start(..)`). Declaring a module is not an edge
by itself. Comments and string literals are ignored. A path resolves to the deepest module that is
a file; a name defined in the crate root (or re-exported there) resolves to `lib.rs`.

Usage: import_cycles.py [--edges] CRATE_SRC_DIR...   (exit 1 when a cycle is found)
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(code):
    """Code without comments, string and char literals (so doc links and texts are no edges);
    the line breaks inside a removed literal stay, so lines keep their numbers."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if code.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif code.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', code[i:]) and not re.match(r"[A-Za-z0-9_]", code[i - 1] if i else " "):
            hashes = re.match(r'r(#*)"', code[i:]).group(1)
            end = code.find('"' + hashes, i + len(hashes) + 2)
            start, i = i, n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * code.count("\n", start, i))
        elif c == '"':
            start, i = i, i + 1
            while i < n and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
            i += 1
            out.append('""' + "\n" * code.count("\n", start, i))
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", code[i:i + 4] + "    "):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", code[i:])
            i += len(m.group(0)) if m else 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def modules(src):
    """Module path (tuple) -> file, for every file of the crate under `src`."""
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel in (["lib"], ["main"]):
                path = ()
            elif rel[-1] == "mod":
                path = tuple(rel[:-1])
            else:
                path = tuple(rel)
            if rel[0] in ("bin",):
                continue
            mods[path] = os.path.join(root, f)
    return mods


def use_paths(tree, prefix=""):
    """Expands `a::{b, c::{d, e}}` into full paths."""
    tree = tree.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", tree, re.S)
    if not m:
        return [prefix + re.sub(r"\s+as\s+\w+$", "", tree)]
    head, body = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out += use_paths(p, prefix + head)
    return out


def resolve(mods, here, segments):
    """The file a path (relative to module `here`) points into, or None if outside the crate."""
    if not segments:
        return None
    if segments[0] == "crate":
        base, rest = (), segments[1:]
    elif segments[0] == "super":
        base, rest = here, segments
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif segments[0] == "self":
        base, rest = here, segments[1:]
    elif here + (segments[0],) in mods:
        base, rest = here, segments
    else:
        return None
    best = base
    for i in range(len(rest)):
        if base + tuple(rest[: i + 1]) in mods:
            best = base + tuple(rest[: i + 1])
        else:
            break
    return mods.get(best)


def edges(src):
    mods = modules(src)
    result = {}
    for here, file in mods.items():
        with open(file, encoding="utf-8") as fh:
            code = strip(fh.read())
        # Inline test modules are compiled only for tests; their imports are not the crate's graph.
        code = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests", code)[0]
        targets = set()
        for m in re.finditer(r"\buse\s+([^;]+);", code):
            for p in use_paths(m.group(1)):
                t = resolve(mods, here, [s for s in p.split("::") if s])
                if t:
                    targets.add(t)
        # Paths in the code itself (the `use` statements were read above).
        body = re.sub(r"\buse\s+[^;]+;", "", code)
        for m in re.finditer(rf"(?<![\w:])((?:{IDENT}::)+){IDENT}", body):
            t = resolve(mods, here, [s for s in m.group(0).split("::") if s])
            if t:
                targets.add(t)
        targets.discard(file)
        result[file] = sorted(targets)
    return result


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main(argv):
    show = "--edges" in argv
    found = False
    for src in [a for a in argv if a != "--edges"]:
        graph = edges(src)
        n_edges = sum(len(v) for v in graph.values())
        comps = cycles(graph)
        print(f"{src}: {len(graph)} files, {n_edges} edges, {len(comps)} cycle(s)")
        if show:
            for f, ts in sorted(graph.items()):
                for t in ts:
                    print(f"  {f} -> {t}")
        for c in comps:
            found = True
            print("  cycle: " + "  ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
