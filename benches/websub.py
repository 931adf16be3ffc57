#!/usr/bin/env python3
"""Issue 13's figures: how fast refeed's WebSub hub pushes a change.

    python3 benches/websub.py --refeed target/release/refeed --corpus DIR \
        [--subscribers 1000] [--reps 5]

Starts `refeed serve` on DIR (a generated corpus, e.g. 100,000 posts) with
loopback callbacks allowed and the per-address limits lifted, and a
subscriber on 127.0.0.1 that echoes every verification and timestamps
every delivery. Then:

1. latency: one subscriber of the site feed; a post is written into DIR
   (one `write` of a new file) and the time until its delivery arrives is
   measured, `--reps` times (the post is removed after each, and that
   delivery awaited too); median and all runs;
2. fan-out: `--subscribers` callbacks subscribed to the site feed; one new
   post; the time until the last delivery arrives, and refeed's RSS before
   and after.

Prints a Markdown report. Every process it starts is stopped on exit, every
wait is bounded, and the posts it writes are removed.
"""

import argparse
import http.server
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subscriber(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.deliveries = []  # (monotonic time, path, bytes)

    def since(self, t0):
        with self.lock:
            return [d for d in self.deliveries if d[0] >= t0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        challenge = query.get("hub.challenge", [""])[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(challenge)))
        self.end_headers()
        self.wfile.write(challenge)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.monotonic()
        with self.server.lock:
            self.server.deliveries.append((now, self.path, len(body)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def wait(what, test, bound):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            if test():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"timed out after {bound} s waiting for {what}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def subscribe(base, topic, callback):
    data = urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
    ).encode()
    with urllib.request.urlopen(base + "/websub", data=data, timeout=10) as r:
        if r.status != 202:
            raise SystemExit(f"subscription of {callback}: {r.status}")


def post_text(n):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    return f"---\ntitle: websub bench {n}\ndate: {date}\n---\n<p>pushed {n}</p>\n"


def deliveries_of(sub, t0, count, bound):
    wait(f"{count} deliveries", lambda: len(sub.since(t0)) >= count, bound)
    return sub.since(t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--refeed", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    sub = Subscriber()
    threading.Thread(target=sub.serve_forever, daemon=True).start()
    sub_base = f"http://127.0.0.1:{sub.server_address[1]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    topic = base + "/rss.xml"
    state = tempfile.mkdtemp(prefix="refeed-websub-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFEED_")}
    env.update(
        REFEED_URL=base + "/",
        REFEED_STATE_DIR=state,
        REFEED_WEBSUB__ALLOW_PRIVATE_CALLBACKS="true",
        REFEED_WEBSUB__REQUESTS_PER_MINUTE="1000000",
        REFEED_WEBSUB__MAX_PER_CALLBACK_HOST="1000000",
        REFEED_WEBSUB__MAX_PER_TOPIC="1000000",
        REFEED_WEBSUB__MAX_SUBSCRIPTIONS="1000000",
        REFEED_STATS__ENABLED="false",
    )
    log = open(os.path.join(state, "refeed.log"), "w")
    proc = subprocess.Popen(
        [args.refeed, "serve", "--source", args.corpus, "--listen", f"127.0.0.1:{port}",
         "--log", "warn"],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    written = []
    try:
        wait("refeed's first load", lambda: get_json(base + "/healthz")["status"] == "ok", 600)
        posts = sum(1 for _ in os.scandir(args.corpus))  # a sanity figure only
        articles = get_json(base + "/healthz")["articles"]
        subscribed = lambda n: get_json(base + "/healthz")["websub"]["subscriptions"] >= n

        # 1. latency, one subscriber
        subscribe(base, topic, f"{sub_base}/one")
        wait("the first verification", lambda: subscribed(1), 30)
        latencies = []
        for rep in range(args.reps):
            time.sleep(1.0)
            path = os.path.join(args.corpus, f"zz-websub-bench-{rep}.md")
            t0 = time.monotonic()
            with open(path, "w") as f:
                f.write(post_text(rep))
            written.append(path)
            got = deliveries_of(sub, t0, 1, 30)
            latencies.append((got[0][0] - t0) * 1000)
            time.sleep(0.5)
            t1 = time.monotonic()
            os.remove(path)
            written.remove(path)
            deliveries_of(sub, t1, 1, 30)

        # 2. fan-out
        n = args.subscribers
        for i in range(1, n):
            subscribe(base, topic, f"{sub_base}/fan/{i}")
        wait(f"{n} verifications", lambda: subscribed(n), 120)
        time.sleep(1.0)
        rss_before = rss_kib(proc.pid)
        path = os.path.join(args.corpus, "zz-websub-bench-fan.md")
        t0 = time.monotonic()
        with open(path, "w") as f:
            f.write(post_text("fan"))
        written.append(path)
        got = deliveries_of(sub, t0, n, 60)
        rss_after = rss_kib(proc.pid)
        last_ms = (max(d[0] for d in got[:n]) - t0) * 1000
        first_ms = (min(d[0] for d in got[:n]) - t0) * 1000
        health = get_json(base + "/healthz")

        print("## WebSub push (issue 13)\n")
        print(f"`benches/websub.py` against `refeed serve` on {articles} articles "
              f"({posts} entries at the corpus root); the site feed as topic; a new post written "
              "into the corpus root (one `write`); a subscriber on 127.0.0.1 timestamps each "
              "delivery as its body arrives. Defaults but for the per-address and per-topic "
              "limits, lifted for one test host, and loopback callbacks allowed.\n")
        print("| figure | value | target |")
        print("|---|---:|---|")
        med = statistics.median(latencies)
        runs = ", ".join(f"{x:.0f}" for x in latencies)
        print(f"| write → delivery, 1 subscriber: median of {len(latencies)} (ms) | "
              f"{med:.0f} ({runs}) | ≤ 300 {'PASS' if med <= 300 else '**FAIL**'} |")
        print(f"| write → last of {n} deliveries (ms) | {last_ms:.0f} (first {first_ms:.0f}) | "
              f"≤ 2000 {'PASS' if last_ms <= 2000 else '**FAIL**'} |")
        print(f"| refeed RSS before → after the fan-out (MiB) | "
              f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f} | (bounded by `websub.concurrency`) |")
        print(f"| failed deliveries | {health['websub']['failed_deliveries']} | 0 |")
    finally:
        for path in written:
            try:
                os.remove(path)
            except OSError:
                pass
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        sub.shutdown()


if __name__ == "__main__":
    main()
