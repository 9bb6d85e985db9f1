#!/usr/bin/env python3
"""One list of metrics, kept true everywhere it is named.

- every metric the code records (`counter!("...")`, `gauge!`, `histogram!`) is in the catalogue
  `api/src/metric_catalog.rs`, which gives it its `# HELP` and buckets, and starts with `tokenbot_`;
- the catalogue and the metric tables of `docs/operations.md` name the same metrics;
- every metric the alert rules (`deploy/prometheus/alerts.yml`) and the dashboard
  (`deploy/grafana/tokenbot.json`) query is in that list (a histogram's `_bucket`, `_sum` and
  `_count` count as the histogram), and the dashboard is valid JSON.

Exit status 0 when all holds, 1 with one line per problem otherwise.
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOG = ROOT / "api/src/metric_catalog.rs"
DOCS = ROOT / "docs/operations.md"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
DASHBOARD = ROOT / "deploy/grafana/tokenbot.json"
SOURCE_DIRS = ["src", "ledger/src", "projections/src", "api/src", "bot/src", "worker/src"]

RECORDED = re.compile(r'\b(?:counter|gauge|histogram)!\(\s*"([^"]+)"')
NAME = re.compile(r"\btokenbot_[a-z0-9_]+")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def catalogue():
    text = CATALOG.read_text()
    text = text.split("#[cfg(test)]")[0]
    names = set(re.findall(r'"(tokenbot_[a-z0-9_]+)"', text))
    histograms = set(re.findall(r'histogram\(\s*"(tokenbot_[a-z0-9_]+)"', text))
    return names, histograms


def recorded():
    names = {}
    for d in SOURCE_DIRS:
        for path in sorted((ROOT / d).rglob("*.rs")):
            for m in RECORDED.finditer(path.read_text()):
                names.setdefault(m.group(1), path.relative_to(ROOT))
    return names


def documented():
    names = set()
    in_metrics = False
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            in_metrics = line.strip() == "## Metrics"
        if in_metrics and line.startswith("| `tokenbot_"):
            cell = line.split("|")[1].strip().strip("`")
            names.add(cell.split("{")[0])
    return names


def queried(text, histograms):
    names = set()
    for n in NAME.findall(text):
        for suffix in HISTOGRAM_SERIES:
            if n.endswith(suffix) and n[: -len(suffix)] in histograms:
                n = n[: -len(suffix)]
        names.add(n)
    return names


def main():
    problems = []
    listed, histograms = catalogue()
    for name, path in sorted(recorded().items()):
        if not name.startswith("tokenbot_"):
            problems.append(f"{path}: metric {name} lacks the tokenbot_ prefix")
        elif name not in listed:
            problems.append(f"{path}: metric {name} is not in {CATALOG.relative_to(ROOT)}")
    docs = documented()
    for n in sorted(listed - docs):
        problems.append(f"{DOCS.relative_to(ROOT)}: the Metrics tables lack {n}")
    for n in sorted(docs - listed):
        problems.append(f"{DOCS.relative_to(ROOT)}: {n} is documented but not in the catalogue")
    for path in (ALERTS, DASHBOARD):
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        text = path.read_text()
        if path.suffix == ".json":
            try:
                json.loads(text)
            except ValueError as e:
                problems.append(f"{path.relative_to(ROOT)}: not valid JSON: {e}")
        for n in sorted(queried(text, histograms) - docs):
            problems.append(f"{path.relative_to(ROOT)}: queries {n}, which docs/operations.md does not list")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"metrics: {len(listed)} in the catalogue, code, docs, alerts and dashboard agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
