#!/usr/bin/env python3
"""Checks that the files and folders the docs name exist.

Reads README.md and docs/*.md: backticked words, and the words of fenced code blocks (the data
walk names its files there). A backticked word is taken for a path when it has no blank, no URL
scheme, does not start with `/` or `<` (an HTTP route, a bot command, a URL template), and
contains a `/` or ends in a source or doc extension; a word of a code block likewise, when it is
made of path characters only. `<name>` placeholders and `*` match anything; `a::b` after a file
names an item in it (only the file is checked). A path whose first part is at the top of the
repository must exist there; a shorter one (`flows/`, `app.rs`, `executor/stored.rs`) must be
the end of some path in the repository.

Usage: doc_paths.py [ROOT]   (exit 1 when a named path does not exist)
"""

import fnmatch
import glob
import os
import re
import subprocess
import sys

EXTENSIONS = (".rs", ".md", ".sql", ".ftl", ".toml", ".py", ".yaml", ".json", ".lock")
# Named on purpose although they are not in the repository.
NOT_IN_REPOSITORY = {
    ".tokenbot/": "the demo's private servers' data, made at run time",
    "../shared/DESIGN.md": "the original design, outside the repository",
    "src/jetstream/consumer/pull.rs": "a file of the async-nats crate",
}


def tracked(root):
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.split("\n")
    files = [f for f in out if f]
    dirs = {os.path.dirname(f) + "/" for f in files}
    for d in list(dirs):
        parts = d.rstrip("/").split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]) + "/")
    return files, dirs


def looks_like_path(word):
    return "/" in word or word.endswith(EXTENSIONS)


def in_code_blocks(text):
    """Path-looking words of fenced code blocks (the data walk's file names), with their lines."""
    for block in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
        for m in re.finditer(r"[^\s,;()]+", block.group(1)):
            word = m.group(0).strip(".:`'\"")
            if re.fullmatch(r"[A-Za-z0-9_.<>*/-]+", word) and not word.startswith("/"):
                if looks_like_path(word):
                    yield word, text.count("\n", 0, block.start(1) + m.start()) + 1


def candidates(text):
    yield from in_code_blocks(text)
    for m in re.finditer(r"`([^`\n]+)`", text):
        word = m.group(1).strip()
        if not word or re.search(r"\s", word) or "://" in word or word.startswith(("/", "<")):
            continue
        if re.search(r"[=?,+()\[\]{}]", word):
            continue
        word = re.sub(r"::.*$", "", word)
        if ":" in word:
            continue
        if looks_like_path(word):
            yield word, text.count("\n", 0, m.start()) + 1


def exists(word, root, files, dirs):
    pattern = re.sub(r"<[^>]+>", "*", word)
    top = pattern.split("/")[0]
    if os.path.exists(os.path.join(root, top)) and top not in ("", ".", ".."):
        return bool(glob.glob(os.path.join(root, pattern)))
    if pattern.endswith("/"):
        return any(fnmatch.fnmatch(d, "*/" + pattern) or fnmatch.fnmatch(d, pattern) for d in dirs)
    return any(fnmatch.fnmatch(f, "*/" + pattern) or fnmatch.fnmatch(f, pattern) for f in files)


def main(argv):
    root = argv[0] if argv else "."
    files, dirs = tracked(root)
    docs = ["README.md"] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    missing, checked = [], 0
    for doc in docs:
        path = doc if os.path.isabs(doc) else os.path.join(root, doc)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for word, line in candidates(text):
            if word in NOT_IN_REPOSITORY:
                continue
            checked += 1
            if not exists(word, root, files, dirs):
                missing.append(f"{os.path.relpath(path, root)}:{line}: `{word}` does not exist")
    for line in missing:
        print(line)
    print(f"doc paths: {checked} checked, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
