#!/usr/bin/env python3
"""refeed's `?opencc=` against OpenCC's official binding (PyPI `opencc`).

Serves a posts folder with `refeed serve` on 127.0.0.1, fetches the site's
JSON Feed with every item, plain and under each conversion, and checks that
every title, summary and tag refeed converted equals what OpenCC makes of
the plain text. Run by .ci/run over the shared corpus, with the PyPI
release whose dictionaries are those ferrous-opencc bundles (.ci/run pins
it): s2t, s2tw and s2hk must agree on every text. Taiwan's phrase list
(s2twp) of ferrous-opencc 0.4 has computing terms that OpenCC 1.3.0's has
not; a text may differ by those entries alone (KNOWN). refeed keeps code
and addresses as written where OpenCC converts the whole string: a text
may differ where refeed's side is text of a `code`/`pre`/`kbd`/`samp`
element of the item's plain content, or of a URL or e-mail address in
the plain text (VERBATIM), nothing else.

Usage: compare.py path/to/refeed path/to/posts
"""

import difflib
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import opencc

CONVERSIONS = ["s2t", "s2tw", "s2twp", "s2hk"]
ITEMS = 1000

# (OpenCC 1.3.0, refeed): the TWPhrases entries the two releases do not
# share, as the texts show them.
KNOWN = {
    "s2twp": [
        ("面向物件", "物件導向"),
        ("雲計算", "雲端計算"),
        ("計算機", "電腦"),
        ("字符串", "字串"),
        ("字元串", "字串"),
        ("物理", "實體"),
        ("數據", "資料"),
        ("變量", "變數"),
        ("後綴", "字尾"),
        ("數組", "陣列"),
        ("正則", "正規"),
        ("查看", "檢視"),
        ("倉庫", "倉儲"),
    ],
}


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def start(refeed, posts, state):
    """`refeed serve` on a port the system picks; its base URL once its
    first load is done. Its log goes to a file, so it can never block on
    a full pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFEED_")}
    env.update(
        REFEED_STATE_DIR=state,
        REFEED_FEED__MAX_LIMIT=str(ITEMS),
        REFEED_FEED__MAX_BYTES=str(1 << 30),
        REFEED_SERVER__WORKERS="1",
        # One response holds every item of the corpus; a debug build takes
        # seconds to render it.
        REFEED_SERVER__CLIENT_REQUEST_TIMEOUT="300",
        REFEED_SERVER__KEEP_ALIVE="300",
    )
    log_path = os.path.join(state, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [refeed, "serve", "--source", posts, "--listen", "127.0.0.1:0", "--log", "info"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    for _ in range(1200):
        with open(log_path) as f:
            m = re.search(r"serving .* on (http://[0-9.]+:[0-9]+)/ \(index\)", f.read())
        if m:
            try:
                with urllib.request.urlopen(m.group(1) + "/healthz", timeout=10):
                    return proc, m.group(1)
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    with open(log_path) as f:
        sys.exit("FAIL: refeed serve did not start\n" + f.read()[-3000:])


def texts(feed):
    """(what, text, content) of every item's title, summary and tags, in
    order, with the item's content HTML."""
    out = []
    for item in feed["items"]:
        content = item.get("content_html", "")
        out.append(("title", item["title"], content))
        out.append(("summary", item["summary"], content))
        out.extend(("tag", t, content) for t in item.get("tags", []))
    return out


CODE = re.compile(r"<(code|pre|kbd|samp)\b[^>]*>(.*?)</\1>", re.S)
TAG = re.compile(r"<[^>]+>")
ADDRESS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"`，。」]+|[^\s@<>]+@[^\s@<>]+\.[^\s@<>，。]+"
)


def verbatim(original, content):
    """Texts refeed keeps as written: its code elements' and addresses'."""
    code = [html.unescape(TAG.sub("", m.group(2))) for m in CODE.finditer(content)]
    return code + ADDRESS.findall(original)


def cut_alike(ours, theirs):
    """Summaries cut to a length: refeed cuts its converted text, so
    where a phrase changed length (s2twp) the two cuts fall apart by a few
    characters. Compared up to a little before the shorter cut, and whether
    they were."""
    if not (ours.endswith("…") or theirs.endswith("…")):
        return ours, theirs, False
    n = max(min(len(ours), len(theirs)) - 1 - 8, 0)
    return ours[:n], theirs[:n], True


def explained(name, ours, theirs, spans, cut):
    """Whether every place where refeed's text differs from OpenCC's is one
    of the KNOWN phrase entries, or text refeed keeps as written (code, an
    address: `spans`), or, for texts `cut` short, their very end."""
    pairs = KNOWN.get(name, [])
    diff = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    for op, i1, i2, j1, j2 in diff.get_opcodes():
        if op == "equal" or (cut and (i2 == len(ours) or j2 == len(theirs))):
            continue
        # A phrase entry spans the edit and the characters around it.
        o = ours[max(i1 - 4, 0):i2 + 4]
        t = theirs[max(j1 - 4, 0):j2 + 4]
        if any(a in t and b in o for a, b in pairs):
            continue
        # What refeed kept, or for an insertion the text beside it.
        sides = [ours[i1:i2]] if i2 > i1 else [ours[max(i1 - 2, 0):i1], ours[i1:i1 + 2]]
        sides = [k.strip() for k in sides if k.strip()]
        if not any(k in s for k in sides for s in spans):
            return False
    return True


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    refeed, posts = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as state:
        proc, base = start(refeed, posts, state)
        try:
            plain = texts(fetch(f"{base}/feed.json?limit={ITEMS}"))
            if len(plain) < 100:
                sys.exit(f"FAIL: only {len(plain)} texts in the plain feed")
            failures = 0
            for name in CONVERSIONS:
                reference = opencc.OpenCC(name)
                ours = texts(fetch(f"{base}/feed.json?limit={ITEMS}&opencc={name}"))
                if len(ours) != len(plain):
                    sys.exit(f"FAIL: {name}: {len(ours)} texts, plain has {len(plain)}")
                changed = explained_count = 0
                for (what, original, content), (_, converted, _) in zip(plain, ours):
                    expected = reference.convert(original)
                    changed += expected != original
                    cut = False
                    if what == "summary":
                        converted, expected, cut = cut_alike(converted, expected)
                    if converted == expected:
                        continue
                    if explained(name, converted, expected, verbatim(original, content), cut):
                        explained_count += 1
                    else:
                        failures += 1
                        if failures <= 20:
                            print(f"FAIL: {name} {what}: {original!r}\n"
                                  f"  refeed: {converted!r}\n  opencc: {expected!r}")
                print(f"{name}: {len(plain)} texts compared, {changed} changed by OpenCC, "
                      f"{explained_count} differ only by the known phrase entries or by "
                      f"code and addresses refeed keeps as written")
                if changed == 0:
                    sys.exit(f"FAIL: {name}: OpenCC changed nothing; the corpus is not Chinese?")
            if failures:
                sys.exit(f"FAIL: {failures} texts differ from OpenCC")
            print("ok: refeed's opencc agrees with OpenCC on every title, summary and tag")
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
