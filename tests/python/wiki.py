"""Shared by the Python client tests (run by tests/python_clients.rs): the command line, the
raw wikipedia sample read independently of the engine (gzip + json), and check bookkeeping."""

import argparse
import collections
import gzip
import json


def parse_args():
    """--host, --port, --datasource, --data (the raw .json.gz), and --user/--password when
    the server checks basic auth (then --wrong-password is one it must refuse)."""
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--datasource", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--wrong-password")
    return p.parse_args()


def raw_rows(path):
    """Every row of the raw sample as a dict."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def added(row):
    """A row's `added` (absent or null: 0, as SUM skips it)."""
    return row.get("added") or 0


def top_channels(rows, n=5):
    """The n busiest channels as (channel, edits, added), ties by name."""
    edits = collections.Counter(r["channel"] for r in rows)
    sums = collections.Counter()
    for r in rows:
        sums[r["channel"]] += added(r)
    ranked = sorted(edits.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(c, e, sums[c]) for c, e in ranked]


def page_with_quote(rows):
    """The most edited page whose title holds a single quote (ties by name), and its edits."""
    counts = collections.Counter(r["page"] for r in rows if "'" in (r.get("page") or ""))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


class Checks:
    """Names each passed check on stdout; the caller asserts and prints the total."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0

    def ok(self, name):
        self.passed += 1
        print(f"{self.suite}: ok {name}", flush=True)

    def done(self):
        print(f"{self.suite}: all {self.passed} checks ok", flush=True)
