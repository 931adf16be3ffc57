#!/usr/bin/env python3
"""Judge a `refeed build` output folder with real clients.

Usage: feeds.py BUILD_DIR CHECK_JSONL ATOM_RNG

- xmllint --noout on every XML document; Atom documents also against
  RFC 4287's RELAX NG schema;
- feedparser parses every RSS and Atom document with bozo == 0, and every
  item's id, title, link, published date and categories equal what
  `refeed check --json` says refeed loaded.
Exits non-zero with a list of every failure.
"""
import calendar
import json
import os
import subprocess
import sys
from datetime import datetime

import feedparser


def xml_documents(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".xml"):
                yield os.path.join(dirpath, name)


def xmllint(paths, extra):
    failures = []
    # Batches keep the command line short and the run fast.
    for i in range(0, len(paths), 200):
        batch = paths[i : i + 200]
        proc = subprocess.run(["xmllint", "--noout", *extra, *batch], capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [l for l in proc.stderr.splitlines() if not l.endswith(" validates")]
            failures.extend(lines[:20] or [f"xmllint exit {proc.returncode}"])
    return failures


def expected_articles(check_jsonl):
    by_id = {}
    with open(check_jsonl, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["url"]:
                by_id[r["id"]] = r
    return by_id


def epoch(rfc3339):
    return calendar.timegm(datetime.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S").timetuple())


def check_feed(path, articles):
    failures = []
    d = feedparser.parse(path)
    if d.bozo:
        return [f"{path}: bozo: {d.bozo_exception!r}"]
    if not d.entries and not path.endswith(("/rss.xml", "/atom.xml")):
        return []
    for e in d.entries:
        a = articles.get(e.get("id"))
        if a is None:
            failures.append(f"{path}: unknown id {e.get('id')}")
            continue
        want_terms = {n for h in a["categories"] for n in h} | set(a["tags"])
        got_terms = {t["term"] for t in e.get("tags", [])}
        checks = [
            ("title", e.get("title"), a["title"]),
            ("link", e.get("link"), a["url"]),
            ("published", calendar.timegm(e.published_parsed) if e.get("published_parsed") else None, epoch(a["date"])),
            ("categories", got_terms, want_terms),
        ]
        for field, got, want in checks:
            if got != want:
                failures.append(f"{path}: {a['path']}: {field}: got {got!r}, want {want!r}")
    return failures


def main():
    build, check_jsonl, rng = sys.argv[1:4]
    docs = sorted(xml_documents(build))
    feeds = [p for p in docs if p.endswith(("/rss.xml", "/atom.xml"))]
    atoms = [p for p in docs if p.endswith("/atom.xml")]
    if not feeds:
        sys.exit(f"no feeds under {build}")
    failures = xmllint(docs, [])
    failures += xmllint(atoms, ["--relaxng", rng])
    articles = expected_articles(check_jsonl)
    items = 0
    for path in feeds:
        failures += check_feed(path, articles)
        items += len(feedparser.parse(path).entries)
    for f in failures[:50]:
        print(f, file=sys.stderr)
    print(f"{build}: {len(docs)} XML documents, {len(feeds)} feeds, {items} items checked, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
