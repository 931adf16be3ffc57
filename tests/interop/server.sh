#!/usr/bin/env bash
# Interop against a running `refeed serve` on 127.0.0.1, over examples/posts:
#   (a) newsboat reloads the site feed and three category feeds three times,
#       stores every item with the title, link and date `refeed check --json`
#       reports, and every reload it makes with stored validators is answered
#       304 (newsboat 2.21 keeps none from a feed's first fetch: reload 3);
#   (b) feedparser revalidates with `etag=` and with `modified=` and gets 304;
#   (c) nginx with examples/nginx.conf (proxy_cache) in front: MISS, HIT, then
#       REVALIDATED by a 304 from refeed; nginx with examples/nginx-static.conf
#       serves `refeed build` output with the types, gzip and bytes of refeed;
#   (d) /metrics on `server.metrics_listen`, read by the Prometheus Python
#       client's parser, with counts that match the requests made.
# Usage: tests/interop/server.sh path/to/refeed
# Every process it starts is stopped on exit; every wait is bounded.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 path/to/refeed" >&2; exit 2; }
refeed=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
src="$repo/examples/posts"
# shellcheck source=tests/interop/lib.sh
source "$repo/tests/interop/lib.sh"
extra_logs=("$work/nginx/error.log")

# start_refeed NAME [VAR=VALUE...]: runs `refeed serve` on a port the system
# picks, with a request log in $work/NAME.log; sets $url to its base URL once
# the first load is done.
start_refeed() {
  local name=$1 log="$work/$1.log"
  url=""
  shift
  # Made here, not by the background job's redirection: the loop below may
  # read it before that job has started (sed on a missing file fails the
  # script under `set -e`).
  : >"$log"
  # Each server keeps its state (Last-Modified across restarts) apart.
  env -u REFEED_CONFIG -u REFEED_LOG REFEED_SERVER__WORKERS=1 \
    REFEED_STATE_DIR="$work/state-$name" "$@" \
    "$refeed" serve --source "$src" --listen 127.0.0.1:0 --log info,refeed::access=debug \
    >/dev/null 2>"$log" &
  pids+=($!)
  for _ in $(seq 150); do
    url=$(sed -n 's#^refeed: serving .* on \(http://[0-9.]*:[0-9]*\)/ (index).*#\1#p' "$log")
    if [ -n "$url" ] && curl -sf -o /dev/null "$url/healthz"; then
      return
    fi
    sleep 0.1
  done
  fail "refeed $name did not start"
}

# The site feed and three category feeds, each with the category hierarchy
# (JSON) whose articles it must hold; null for the whole site.
feeds=(
  '/rss.xml|null'
  '/categories/Tech/atom.xml|["Tech"]'
  '/categories/%E9%87%91%E8%9E%8D/%E6%96%B0%E6%B5%AA%E8%B4%A2%E7%BB%8F/rss.xml|["金融","新浪财经"]'
  '/categories/%E7%A7%91%E6%8A%80/%E4%BA%92%E8%81%94%E7%BD%91/atom.xml|["科技","互联网"]'
)

env -u REFEED_CONFIG -u REFEED_LOG "$refeed" check --source "$src" --json --log warn >"$work/check.jsonl" \
  || fail "refeed check rejected an example"
# No hub of its own: (c) compares its bytes with `refeed build`'s, which
# advertises none (a folder of files has no hub).
start_refeed refeed REFEED_WEBSUB__ENABLED=false
base=$url
ok "refeed serving $base"

# --- (a) newsboat ------------------------------------------------------------
nb="$work/newsboat"
mkdir -p "$nb/home"
: >"$nb/urls"
for f in "${feeds[@]}"; do echo "$base${f%%|*}" >>"$nb/urls"; done
cat >"$nb/config" <<'EOF'
reload-threads 4
download-timeout 10
download-retries 1
user-agent "refeed-interop-newsboat"
EOF
# The ETag / Last-Modified newsboat holds for each feed, as JSON.
validators() {
  python3 -c 'import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps({u: [e, m] for u, e, m in db.execute("SELECT rssurl, etag, lastmodified FROM rss_feed")}))' "$1"
}
echo '{}' >"$nb/validators-0.json"
for round in 1 2 3; do
  HOME="$nb/home" XDG_CONFIG_HOME="$nb/home" XDG_DATA_HOME="$nb/home" \
    timeout 60 newsboat -u "$nb/urls" -c "$nb/cache.db" -C "$nb/config" -x reload \
    >"$nb/reload-$round.out" 2>&1 || fail "newsboat reload $round: $(cat "$nb/reload-$round.out")"
  validators "$nb/cache.db" >"$nb/validators-$round.json"
done
ok "newsboat reloaded ${#feeds[@]} feeds 3 times"

python3 - "$nb" "$work/check.jsonl" "$base" "$work/refeed.log" "${feeds[@]}" <<'EOF' || fail "newsboat cache"
"""Every item of every feed is in newsboat's cache with refeed's id, title,
link and date, and every reload newsboat made with validators was a 304.

newsboat keeps one row per guid, under the first feed that delivered it, so
an item is checked against the feeds that must hold it, not one feed. And
newsboat 2.21 stores no validators from the very first fetch of a feed (its
feed row does not exist yet when it saves them), so reload 2 is still a
plain GET: the rule checked is "with validators, 304", and reload 3 must
have had them."""
import calendar, json, re, sqlite3, sys
from datetime import datetime

nb, check, base, log, feeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
cache = nb + "/cache.db"
articles = [json.loads(l) for l in open(check, encoding="utf-8")]
articles = [a for a in articles if a.get("url")]  # drafts and pages are in no feed

def epoch(rfc3339):
    return calendar.timegm(datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").timetuple())

db = sqlite3.connect(cache)
failures = []
holders = {}  # guid -> the feeds that must hold it
for spec in feeds:
    path, hierarchy = spec.split("|", 1)
    hierarchy = json.loads(hierarchy)
    for a in articles:
        if hierarchy is None or any(h[: len(hierarchy)] == hierarchy for h in a["categories"]):
            holders.setdefault(a["id"], set()).add(base + path)
by_id = {a["id"]: a for a in articles}
stored = {}
for guid, title, url, date, feed in db.execute("SELECT guid, title, url, pubDate, feedurl FROM rss_item"):
    if guid in stored:
        failures.append(f"{guid}: stored twice")
    stored[guid] = feed
    a = by_id.get(guid)
    if a is None or guid not in holders:
        failures.append(f"{feed}: unexpected item {guid}")
        continue
    if feed not in holders[guid]:
        failures.append(f"{a['path']}: stored under {feed}, which must not hold it")
    for field, g, w in [("title", title, a["title"]), ("link", url, a["url"]), ("date", date, epoch(a["date"]))]:
        if g != w:
            failures.append(f"{a['path']}: {field}: newsboat has {g!r}, refeed says {w!r}")
missing = set(holders) - set(stored)
if missing:
    failures.append(f"items newsboat did not store: {sorted(missing)}")
print(f"  {len(stored)} items stored, {len(holders)} expected")

# One log line per request: `GET <path> <status> "<user agent>" <ms>`.
seen = {}
for line in open(log, encoding="utf-8"):
    m = re.search(r'refeed::access: GET (\S+) (\d{3}) "refeed-interop-newsboat"', line)
    if m:
        seen.setdefault(m.group(1), []).append(m.group(2))
held = [json.load(open(f"{nb}/validators-{r}.json")) for r in range(3)]
for spec in feeds:
    path = spec.split("|", 1)[0]
    etag, modified = held[2].get(base + path, ["", 0])
    if not etag or not modified:
        failures.append(f"{path}: newsboat holds no ETag / Last-Modified after two reloads")
    want = ["304" if any(held[r].get(base + path, ["", 0])) else "200" for r in range(3)]
    if seen.get(path) != want:
        failures.append(f"{path}: newsboat's reloads were answered {seen.get(path)}, want {want}")
    print(f"  {path}: {' '.join(seen.get(path, []))}")
if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
EOF
ok "newsboat stored every item right; its reloads with validators were answered 304"

# --- (b) feedparser ------------------------------------------------------------
python3 - "$base" <<'EOF' || fail "feedparser"
import socket, sys
import feedparser

socket.setdefaulttimeout(10)

base = sys.argv[1]
for path in ["/rss.xml", "/atom.xml", "/categories/Tech/Rust/atom.xml"]:
    url = base + path
    d = feedparser.parse(url)
    assert d.status == 200 and not d.bozo and d.entries, (path, d.status, d.bozo)
    assert d.etag and d.modified, (path, d.get("etag"), d.get("modified"))
    for kind, kw in [("etag", {"etag": d.etag}), ("modified", {"modified": d.modified})]:
        again = feedparser.parse(url, **kw)
        assert again.status == 304 and not again.entries, (path, kind, again.status)
    stale = feedparser.parse(url, etag='"stale"')
    assert stale.status == 200 and len(stale.entries) == len(d.entries), (path, stale.status)
    print(f"  {path}: 200 then 304 with etag= and with modified=")
EOF
ok "feedparser revalidates to 304"

# --- (c) nginx --------------------------------------------------------------------
# A second refeed whose Cache-Control lets nginx keep a feed for 1 s.
start_refeed refeed-behind-nginx REFEED_SERVER__MAX_AGE=1
cached=$url
ngx="$work/nginx"
mkdir -p "$ngx/cache"
proxy_port=$(free_port)
static_port=$(free_port)
[ "$proxy_port" != "$static_port" ] || static_port=$(free_port)
env -u REFEED_CONFIG -u REFEED_LOG "$refeed" build --source "$src" --out "$work/site" --log warn >/dev/null
sed -e "s#127\.0\.0\.1:8080#${cached#http://}#" \
    -e "s#listen 80;#listen 127.0.0.1:$proxy_port;#" \
    -e "s#/var/cache/nginx/refeed#$ngx/cache#" \
    "$repo/examples/nginx.conf" >"$ngx/proxy.conf"
sed -e "s#listen 80;#listen 127.0.0.1:$static_port;#" \
    -e "s#root /srv/refeed;#root $work/site;#" \
    "$repo/examples/nginx-static.conf" >"$ngx/static.conf"
grep -q "$ngx/cache" "$ngx/proxy.conf" && grep -q "$work/site" "$ngx/static.conf" \
  || fail "the example nginx configs no longer have the lines this script rewrites"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$ngx/nginx.conf" <<EOF
$user
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log notice;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log $ngx/access.log;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    include $ngx/proxy.conf;
    include $ngx/static.conf;
}
EOF
nginx -t -q -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" 2>"$work/nginx-test.log" \
  || fail "nginx -t: $(cat "$work/nginx-test.log")"
nginx -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$static_port/" && break
  sleep 0.1
done

# header URL NAME [CURL ARGS...]: one response header's value.
header() {
  local url=$1 name=$2
  shift 2
  curl -s -o /dev/null -D - "$@" "$url" | tr -d '\r' \
    | awk -v n="$(echo "$name" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n { print $2 }'
}

proxy="http://127.0.0.1:$proxy_port"
feed=/categories/Tech/rss.xml
want_etag=$(header "$cached$feed" etag)
[ -n "$want_etag" ] || fail "no ETag from refeed"
for want in MISS HIT; do
  got=$(header "$proxy$feed" x-cache-status)
  [ "$got" = "$want" ] || fail "nginx proxy_cache: X-Cache-Status $got, want $want"
done
[ "$(header "$proxy$feed" etag)" = "$want_etag" ] || fail "nginx changed the ETag"
sleep 2.2 # past max-age=1
revalidations=$(grep -c "GET $feed 304" "$work/refeed-behind-nginx.log" || true)
got=$(header "$proxy$feed" x-cache-status)
[ "$got" = REVALIDATED ] || fail "nginx proxy_cache after expiry: X-Cache-Status $got, want REVALIDATED"
[ "$(grep -c "GET $feed 304" "$work/refeed-behind-nginx.log")" -gt "$revalidations" ] \
  || fail "refeed did not answer nginx's revalidation with 304"
got=$(header "$proxy$feed" x-cache-status)
[ "$got" = HIT ] || fail "nginx proxy_cache after revalidation: X-Cache-Status $got, want HIT"
curl -sf "$proxy$feed" | cmp -s - <(curl -sf "$cached$feed") || fail "nginx served other bytes than refeed"
ok "nginx proxy_cache: MISS, HIT, REVALIDATED (refeed 304), HIT"

static="http://127.0.0.1:$static_port"
for doc in '/rss.xml|application/rss+xml; charset=utf-8' \
           '/atom.xml|application/atom+xml; charset=utf-8' \
           '/feed.json|application/feed+json' \
           '/categories/%E9%87%91%E8%9E%8D/%E6%96%B0%E6%B5%AA%E8%B4%A2%E7%BB%8F/atom.xml|application/atom+xml; charset=utf-8' \
           '/tags/rust/rss.xml|application/rss+xml; charset=utf-8' \
           '/opml.xml|text/x-opml; charset=utf-8' \
           '/|text/html; charset=utf-8'; do
  path=${doc%%|*} type=${doc#*|}
  got=$(header "$static$path" content-type)
  [ "$got" = "$type" ] || fail "nginx static $path: Content-Type $got, want $type"
  [ "$(header "$static$path" content-encoding -H 'Accept-Encoding: gzip')" = gzip ] \
    || fail "nginx static $path: no gzip_static"
  curl -sf -H 'Accept-Encoding: gzip' "$static$path" | gzip -dc | cmp -s - <(curl -sf "$base$path") \
    || fail "nginx static $path (gzip): other bytes than refeed serve"
  curl -sf "$static$path" | cmp -s - <(curl -sf "$base$path") \
    || fail "nginx static $path: other bytes than refeed serve"
done
ok "nginx static: refeed build output with refeed's types, gzip_static and bytes"

# --- (d) /metrics ---------------------------------------------------------------
# A third refeed with /metrics on an address of its own, scraped after a
# revalidation and a query, and read by the Prometheus project's Python
# parser.
metrics_port=$(free_port)
start_refeed refeed-metrics REFEED_SERVER__METRICS=true \
  REFEED_SERVER__METRICS_LISTEN="127.0.0.1:$metrics_port"
main=$url
etag=$(header "$main/rss.xml" etag)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$main/rss.xml")" = 304 ] \
  || fail "no 304 for the site feed's ETag"
curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$main/atom.xml?limit=3" || fail "query representation"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$main/metrics")" = 404 ] \
  || fail "/metrics answered on the main listener though metrics_listen is set"
curl -sf "$main/healthz" >"$work/healthz.json" || fail "healthz"
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt" \
  || fail "no /metrics on 127.0.0.1:$metrics_port"
python3 - "$work/metrics.txt" "$work/healthz.json" <<'EOF' || fail "/metrics"
import json, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
health = json.load(open(sys.argv[2], encoding="utf-8"))
families = {f.name: f for f in text_string_to_metric_families(text)}
want = {
    "refeed_requests": "counter",
    "refeed_response_body_bytes": "counter",
    "refeed_reloads": "counter",
    "refeed_reload_duration_seconds": "histogram",
    "refeed_articles": "gauge",
    "refeed_feeds": "gauge",
    "refeed_rejected_files": "gauge",
    "refeed_cache_bytes": "gauge",
}
for name, kind in want.items():
    assert name in families, f"{name} missing; have {sorted(families)}"
    assert families[name].type == kind, (name, families[name].type)

def value(family, sample, **labels):
    return sum(s.value for s in families[family].samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))

checks = [
    ("304s of feeds", value("refeed_requests", "refeed_requests_total", route="feed", status="304"), 1),
    ("queries", value("refeed_requests", "refeed_requests_total", route="query", status="200"), 1),
    ("gzip bytes", value("refeed_response_body_bytes", "refeed_response_body_bytes_total", encoding="gzip") > 0, True),
    ("articles", value("refeed_articles", "refeed_articles"), health["articles"]),
    ("feeds", value("refeed_feeds", "refeed_feeds"), health["feeds"]),
    ("reloads", value("refeed_reloads", "refeed_reloads_total"), 1),
    ("reload durations", value("refeed_reload_duration_seconds", "refeed_reload_duration_seconds_count"), 1),
]
for what, got, expected in checks:
    assert got == expected, f"{what}: {got}, want {expected}"
print(f"  {len(families)} families, {sum(len(f.samples) for f in families.values())} samples")
EOF
ok "/metrics on its own address, read by prometheus_client's parser"

echo "interop server: all passed"
