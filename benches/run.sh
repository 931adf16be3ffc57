#!/usr/bin/env bash
# Issue 5's benchmark suite: refeed against the file-read floor, Hugo and
# nginx, on the same machine in the same run, written up as Markdown.
#
#   benches/run.sh [--smoke] [--out FILE] [--posts-small N] [--posts-large N]
#                  [--corpus-dir DIR] [--reps N] [--reps-large N]
#                  [--change-reps N] [--wrk-duration D] [--keep-temp]
#
#   --smoke          1,000 posts (one corpus), 1 repetition, 2 s wrk runs,
#                    very short criterion runs: checks the suite end to end
#                    (CI runs this; well under 2 minutes once built).
#   --out FILE       the report (default BENCHMARKS.md at the repo root).
#   --posts-small N  (default 10000)   --posts-large N (default 100000)
#   --corpus-dir DIR reuse corpora in DIR/posts-N (generated there, and
#                    kept, when missing); default: generated into the temp
#                    folder and removed. The change test writes into the
#                    corpus and always puts it back.
#   --reps N         start-up repetitions for the small corpus (default 3),
#   --reps-large N   for the large one (default 2); the median is reported.
#   --change-reps N  repetitions of the change test (default 5).
#   --tmp-dir DIR    where the temp folder goes (default: /dev/shm when it is
#                    a tmpfs with 4 GiB free, else $TMPDIR or /tmp). tmpfs
#                    keeps the corpus in memory (a warm page cache by
#                    construction) and makes writing and removing 10^5 files
#                    cheap on a busy disk.
#
# What it measures (sections of the report):
#   1. start-up: `refeed serve` to /healthz 200 and `refeed build` wall time
#      and peak RSS, beside benches/floor.rs (2 threads) and Hugo building
#      per-category RSS for the same posts, warm page cache;
#   2. serving: wrk against `refeed serve` and nginx serving `refeed build`'s
#      output (gzip_static) on one 50-item category feed: plain, gzip, 304;
#      32 and 256 connections; servers on core 0, wrk on core 1;
#   3. change: a new post and an edited title, time from the write to the
#      feed showing it over HTTP, refeed's reload time and CPU time;
#   4. criterion micro-benchmarks (benches/hot_paths.rs).
# Servers listen on 127.0.0.1 on free ports and are killed on exit; the temp
# folder is removed. Any missing tool or failed verification stops the run
# with a FATAL message and a non-zero exit status.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
helper="$repo/benches/run_helper.py"
invocation="benches/run.sh${*:+ $*}"

die() { echo "FATAL: $*" >&2; exit 1; }
step() { printf '\n=== %s (%ss)\n' "$*" "$SECONDS"; }

smoke=0
out="$repo/BENCHMARKS.md"
posts_small="" posts_large="" corpus_dir="" reps="" reps_large="" change_reps="" wrk_duration=""
keep_temp=0 tmp_parent=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    --posts-small) posts_small=$2; shift ;;
    --posts-large) posts_large=$2; shift ;;
    --corpus-dir) corpus_dir=$2; shift ;;
    --reps) reps=$2; shift ;;
    --reps-large) reps_large=$2; shift ;;
    --change-reps) change_reps=$2; shift ;;
    --wrk-duration) wrk_duration=$2; shift ;;
    --keep-temp) keep_temp=1 ;;
    --tmp-dir) tmp_parent=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
if [ "$smoke" = 1 ]; then
  : "${posts_small:=1000}" "${posts_large:=$posts_small}" "${reps:=1}" "${reps_large:=1}"
  : "${change_reps:=1}" "${wrk_duration:=2s}"
  criterion_args=(--warm-up-time 0.1 --measurement-time 0.3 --sample-size 10)
else
  : "${posts_small:=10000}" "${posts_large:=100000}" "${reps:=3}" "${reps_large:=2}"
  : "${change_reps:=5}" "${wrk_duration:=10s}"
  criterion_args=(--warm-up-time 1 --measurement-time 3)
fi
for n in "$posts_small" "$posts_large" "$reps" "$reps_large" "$change_reps"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive number"
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

# --- tools -------------------------------------------------------------------
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (Debian: apt-get install hugo nginx wrk time curl python3 util-linux)"
  done
}
need cargo python3 curl hugo nginx wrk taskset gzip cmp find xargs nproc
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package 'time')"
/usr/bin/time -v true 2>&1 | grep -c "Maximum resident set size" >/dev/null || die "/usr/bin/time does not support -v"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null \
  || die "open file limit $(ulimit -n) is below 4096 and cannot be raised (wrk -c256 needs it)"

# --- temp folder, processes, cleanup -------------------------------------------
if [ -z "$tmp_parent" ]; then
  tmp_parent=${TMPDIR:-/tmp}
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] \
    && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -ge $((4 * 1024 * 1024)) ]; then
    tmp_parent=/dev/shm
  fi
fi
tmp=$(mktemp -d "$tmp_parent/refeed-bench.XXXXXX") || die "cannot create a temp folder in $tmp_parent"
chmod 755 "$tmp"   # nginx workers run as an unprivileged user
pids="$tmp/pids"       # "PID NAME" of every server we started
journal="$tmp/journal" # posts the change test wrote or edited
results="$tmp/results.jsonl"
: > "$pids"

ours() { # PID NAME: is PID still running a command line that names NAME?
  grep -qa -- "$2" "/proc/$1/cmdline" 2>/dev/null
}
kill_ours() {
  # Only processes we started, by pid, and only while they still are ours:
  # SIGTERM, up to 10 s to exit (refeed joins its reload thread), then SIGKILL.
  [ -f "$pids" ] || return 0
  local pid name left
  while read -r pid name; do
    if ours "$pid" "$name"; then kill "$pid" 2>/dev/null || true; fi
  done < "$pids"
  for _ in $(seq 1 200); do
    left=0
    while read -r pid name; do
      if ours "$pid" "$name"; then left=1; fi
    done < "$pids"
    [ "$left" = 0 ] && break
    sleep 0.05
  done
  while read -r pid name; do
    if ours "$pid" "$name"; then
      echo "warning: $name ($pid) ignored SIGTERM for 10 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  done < "$pids"
  wait 2>/dev/null || true
  : > "$pids"
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ -f "$journal" ] && python3 "$helper" restore --journal "$journal"
  kill_ours
  if [ "$keep_temp" = 1 ]; then echo "temp folder kept: $tmp"; else rm -rf "$tmp"; fi
  [ "$rc" = 0 ] || echo "benches/run.sh: FAILED (exit $rc) after ${SECONDS}s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

h() { python3 "$helper" "$@"; }
meta() { h meta --results "$results" "$1" "$2"; }
cmd() { meta command "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
section() { meta section "$1|$SECONDS|$(loadavg)"; } # NAME: when it started, and the load then
freeport() { h freeport; }
start_bg() { # NAME LOG CMD...: start a server in the background, remember its pid
  local name=$1 log=$2; shift 2
  "$@" > "$log" 2>&1 &
  echo "$! $name" >> "$pids"
}

meta invocation "$invocation"
meta smoke "$smoke"
meta posts_small "$posts_small"
meta posts_large "$posts_large"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta load_start "$(loadavg)"
meta nproc "$(nproc)"
meta cpu_model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta kernel "$(uname -srm)"
meta mem "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
meta rustc "$(rustc --version)"
meta hugo "$(hugo version | cut -d' ' -f1-2)"
meta nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
meta wrk "$(wrk --version 2>&1 | sed -n "1s/^\(wrk [^ ]*\).*/\1/p")"
commit="\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`"
dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock benches 2>/dev/null | cut -c4- | tr '\n' ' ')
[ -z "$dirty" ] || commit="$commit, with uncommitted changes to: ${dirty% }"
meta commit "$commit"
meta note "Temp folder (generated corpora unless \`--corpus-dir\`, build outputs, Hugo site and output) in \`$tmp_parent\` ($(stat -f -c %T "$tmp_parent" 2>/dev/null || echo unknown) file system)."

# Cores: servers on core 0, clients on core 1, when there are two.
if [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c 0) client_pin=(taskset -c 1)
  pin_note="servers pinned to core 0 (\`taskset -c 0\`, one worker each), wrk to core 1 (\`taskset -c 1 wrk -t2\`)"
else
  server_pin=() client_pin=()
  pin_note="one core only: nothing pinned, servers and wrk share it"
fi

# --- build -----------------------------------------------------------------------
step "build: refeed and gen_corpus (release), floor and hot_paths benches"
section "build (cargo; shares target/ with other builds)"
cargo build --release --quiet --bin refeed --example gen_corpus || die "cargo build --release failed"
refeed="$repo/target/release/refeed"
gen="$repo/target/release/examples/gen_corpus"
floor=$(cargo bench --quiet --bench floor --no-run --message-format=json | h exe floor) \
  || die "building benches/floor.rs failed"
hot_paths=$(cargo bench --quiet --bench hot_paths --no-run --message-format=json | h exe hot_paths) \
  || die "building benches/hot_paths.rs failed"
# Private copies: other builds in this target folder cannot swap them mid-run.
mkdir -p "$tmp/bin"
cp "$refeed" "$gen" "$floor" "$hot_paths" "$tmp/bin/"
refeed="$tmp/bin/refeed" gen="$tmp/bin/gen_corpus"
floor="$tmp/bin/$(basename "$floor")" hot_paths="$tmp/bin/$(basename "$hot_paths")"
cmd "cargo build --release --bin refeed --example gen_corpus"

# --- corpora ---------------------------------------------------------------------
corpus_path() { # N -> folder
  if [ -n "$corpus_dir" ]; then echo "$corpus_dir/posts-$1"; else echo "$tmp/corpus-$1"; fi
}
prepare_corpus() { # N
  local n=$1 dir
  dir=$(corpus_path "$n")
  if [ ! -d "$dir" ]; then
    mkdir -p "$(dirname "$dir")"
    "$gen" --posts "$n" --out "$dir" > "$tmp/gen-$n.log" 2>&1 \
      || die "gen_corpus --posts $n failed: $(tail -3 "$tmp/gen-$n.log")"
  fi
  dir=$(cd "$dir" && pwd -P)
  local count
  count=$(find "$dir/" -name '*.md' -type f | wc -l)
  [ "$count" = "$n" ] || die "$dir holds $count posts, not $n (remove it to regenerate)"
  # Warm page cache: every file read once.
  find "$dir/" -type f -print0 | xargs -0 cat > /dev/null
  echo "$dir"
}
step "corpora: $posts_small and $posts_large posts"
section "corpora (generate, warm page cache)"
small_dir=$(prepare_corpus "$posts_small")
if [ "$posts_large" = "$posts_small" ]; then large_dir=$small_dir; else large_dir=$(prepare_corpus "$posts_large"); fi
sizes=("$posts_small")
[ "$posts_large" = "$posts_small" ] || sizes+=("$posts_large")
cmd "cargo run --release --example gen_corpus -- --posts $posts_small --out CORPUS_SMALL"
[ "$posts_large" = "$posts_small" ] || cmd "cargo run --release --example gen_corpus -- --posts $posts_large --out CORPUS_LARGE"
corpus_of() { if [ "$1" = "$posts_small" ]; then echo "$small_dir"; else echo "$large_dir"; fi; }

# --- Hugo site ---------------------------------------------------------------------
# A throwaway site whose content folder is the corpus itself. Hugo 0.111
# reads our front matter as it is (leading blank line, RFC 2822 dates: the
# check after the first build compares its newest date with refeed's).
# Regular pages are listed but never rendered (`_build.render = never`),
# only the home and category term pages render, as RSS (embedded template),
# 20 items each (`rssLimit`, the name of the setting in Hugo < 0.114).
hugo_site() { # N -> site folder
  local n=$1 site="$tmp/hugo-$1"
  mkdir -p "$site"
  cat > "$site/hugo.toml" <<EOF
baseURL = "http://127.0.0.1/"
title = "hugo bench"
contentDir = "$(corpus_of "$n")"
disableKinds = ["section", "taxonomy", "sitemap", "robotsTXT", "404"]
ignoreErrors = ["error-disable-taxonomy"]
rssLimit = 20
[services.rss]
limit = 20
[taxonomies]
category = "categories"
[outputs]
home = ["RSS"]
term = ["RSS"]
page = []
[[cascade]]
[cascade._build]
render = "never"
list = "always"
[cascade._target]
kind = "page"
EOF
  echo "$site"
}

# --- 1. start-up ---------------------------------------------------------------------
step "1. start-up"
section "1. start-up"
for n in "${sizes[@]}"; do
  dir=$(corpus_of "$n")
  if [ "$n" = "$posts_large" ] && [ "$n" != "$posts_small" ]; then r=$reps_large; else r=$reps; fi
  site=$(hugo_site "$n")
  for rep in $(seq 1 "$r"); do
    h timed --results "$results" --tool floor --posts "$n" --rep "$rep" --log "$tmp/floor.log" \
      -- "$floor" "$dir" 2
    rm -rf "$tmp/build-$n"
    h timed --results "$results" --tool "refeed build" --posts "$n" --rep "$rep" --log "$tmp/build.log" \
      -- "$refeed" build --source "$dir" --out "$tmp/build-$n" --log warn
    port=$(freeport)
    h serve-startup --results "$results" --posts "$n" --rep "$rep" --port "$port" --pidfile "$pids" \
      --log "$tmp/serve.log" -- "$refeed" serve --source "$dir" --listen "127.0.0.1:$port" --log warn
    rm -rf "$tmp/hugo-public-$n"
    h timed --results "$results" --tool hugo --posts "$n" --rep "$rep" --log "$tmp/hugo.log" \
      -- hugo --source "$site" --config "$site/hugo.toml" --destination "$tmp/hugo-public-$n" \
      --cacheDir "$tmp/hugo-cache" --quiet
  done
  # Verify Hugo built what we compare against.
  hugo_feeds=$(find "$tmp/hugo-public-$n/categories" -name index.xml 2>/dev/null | wc -l)
  refeed_feeds=$(find "$tmp/build-$n/categories" -name rss.xml | wc -l)
  [ "$hugo_feeds" -ge 10 ] || die "Hugo built only $hugo_feeds category feeds for $n posts (see $tmp/hugo.log)"
  hugo_items=$(grep -c '<item>' "$tmp/hugo-public-$n/index.xml" || true)
  [ "$hugo_items" = 20 ] || die "Hugo's home feed has $hugo_items items, not 20"
  hugo_newest=$(h first-pubdate "$tmp/hugo-public-$n/index.xml")
  refeed_newest=$(h first-pubdate "$tmp/build-$n/rss.xml")
  [ "$hugo_newest" = "$refeed_newest" ] \
    || die "Hugo's newest date '$hugo_newest' differs from refeed's '$refeed_newest': does Hugo read the RFC 2822 dates?"
  meta note "Hugo, $n posts: $hugo_feeds category feeds (\`categories/*/index.xml\`) + the home feed, 20 items each; refeed: $refeed_feeds category feeds (Hexo hierarchy nodes; Hugo's categories are flat names, a post in A > B is in both A and B). Hugo's newest item date equals refeed's ($hugo_newest), so it read our RFC 2822 dates and the leading blank line before \`---\` as they are: the corpus is used unconverted."
done
meta note "Hugo config (generated into the temp folder, \`contentDir\` = the corpus): \`disableKinds = [section, taxonomy, sitemap, robotsTXT, 404]\`, \`[outputs] home = [RSS], term = [RSS], page = []\`, \`rssLimit = 20\`, taxonomy \`category = categories\`, and a cascade \`_build = {render = never, list = always}\` for kind page, so no per-post HTML is written (Hugo's items therefore have empty \`<link>\`/\`<guid>\`: it does less work than a real site build)."
cmd "cargo bench --bench floor -- CORPUS 2        # measured: the bench binary under /usr/bin/time -v"
cmd "/usr/bin/time -v refeed build --source CORPUS --out OUT --log warn"
cmd "refeed serve --source CORPUS --listen 127.0.0.1:PORT --log warn   # timed to /healthz 200, then stopped"
cmd "/usr/bin/time -v hugo --source SITE --config SITE/hugo.toml --destination PUBLIC --cacheDir CACHE --quiet"

# --- 2. serving ----------------------------------------------------------------------------
step "2. serving ($posts_small posts, 50-item feed, wrk $wrk_duration)"
section "2. serving"
www="$tmp/www"
REFEED_FEED__LIMIT=50 "$refeed" build --source "$small_dir" --out "$www" --log warn > "$tmp/www.log" 2>&1 \
  || die "refeed build (limit 50) failed: $(tail -3 "$tmp/www.log")"
chmod -R a+rX "$www"
IFS=$'\t' read -r cat_name cat_posts feed_path < <(h pick-category --corpus "$small_dir" --out "$www" --min 50)
[ -n "$feed_path" ] || die "no category feed to serve"

ngx="$tmp/nginx"
mkdir -p "$ngx/logs"
nport=$(freeport)
cat > "$ngx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  etag on;
  gzip off;
  gzip_static on;
  gzip_vary on;
  client_body_temp_path $ngx/client_body;
  proxy_temp_path $ngx/proxy;
  fastcgi_temp_path $ngx/fastcgi;
  uwsgi_temp_path $ngx/uwsgi;
  scgi_temp_path $ngx/scgi;
  types {
    application/rss+xml xml;
    application/feed+json json;
    text/html html;
  }
  default_type application/octet-stream;
  charset utf-8;
  charset_types application/rss+xml application/feed+json;
  server {
    listen 127.0.0.1:$nport;
    root $www;
    location / { }
  }
}
EOF
start_bg nginx "$tmp/nginx.out" "${server_pin[@]}" nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/logs/error.log"
rport=$(freeport)
start_bg refeed "$tmp/serve-bench.log" env REFEED_FEED__LIMIT=50 REFEED_SERVER__WORKERS=1 REFEED_WEBSUB__ENABLED=false \
  "${server_pin[@]}" "$refeed" serve --source "$small_dir" --listen "127.0.0.1:$rport" --log warn
h wait-ready --port "$rport" --log "$tmp/serve-bench.log" --timeout 300
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.05; done
ref_url="http://127.0.0.1:$rport$feed_path"
ngx_url="http://127.0.0.1:$nport$feed_path"

# Verify: same bytes, gzip where asked, 304 with each server's own ETag.
fetch() { # URL OUT [HEADER...] -> status; headers in OUT.h
  local url=$1 o=$2; shift 2
  local hs=()
  for x in "$@"; do hs+=(-H "$x"); done
  curl -s -o "$o" -D "$o.h" -w '%{http_code}' "${hs[@]}" "$url"
}
header() { grep -i -m1 "^$1:" "$2" | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
v="$tmp/verify"; mkdir -p "$v"
[ "$(fetch "$ref_url" "$v/ref.xml")" = 200 ] || die "refeed: GET $feed_path is not 200"
[ "$(fetch "$ngx_url" "$v/ngx.xml")" = 200 ] || die "nginx: GET $feed_path is not 200 (see $ngx/logs/error.log)"
cmp -s "$v/ref.xml" "$v/ngx.xml" || die "refeed and nginx bodies differ for $feed_path"
items=$(grep -o '<item>' "$v/ref.xml" | wc -l)
[ "$items" = 50 ] || die "the served feed has $items items, not 50"
[ "$(fetch "$ref_url" "$v/ref.gz" 'Accept-Encoding: gzip')" = 200 ] || die "refeed: gzip GET not 200"
[ "$(fetch "$ngx_url" "$v/ngx.gz" 'Accept-Encoding: gzip')" = 200 ] || die "nginx: gzip GET not 200"
for s in ref ngx; do
  [ "$(header content-encoding "$v/$s.gz.h")" = gzip ] || die "$s: no Content-Encoding: gzip"
  gzip -dc < "$v/$s.gz" | cmp -s - "$v/ref.xml" || die "$s: the gzip body does not decompress to the plain body"
done
cmp -s "$v/ref.gz" "$v/ngx.gz" && gzip_same="byte-identical" || gzip_same="different bytes (same content)"
ref_etag=$(header etag "$v/ref.xml.h"); ngx_etag=$(header etag "$v/ngx.xml.h")
ref_etag_gz=$(header etag "$v/ref.gz.h"); ngx_etag_gz=$(header etag "$v/ngx.gz.h")
[ -n "$ref_etag" ] && [ -n "$ngx_etag" ] && [ -n "$ref_etag_gz" ] && [ -n "$ngx_etag_gz" ] || die "missing ETag"
[ "$(fetch "$ref_url" "$v/r304" "If-None-Match: $ref_etag")" = 304 ] || die "refeed: If-None-Match with its ETag is not 304"
[ "$(fetch "$ngx_url" "$v/n304" "If-None-Match: $ngx_etag")" = 304 ] || die "nginx: If-None-Match with its ETag is not 304"
[ "$(fetch "$ref_url" "$v/r304g" 'Accept-Encoding: gzip' "If-None-Match: $ref_etag_gz")" = 304 ] \
  || die "refeed: gzip If-None-Match with its gzip ETag is not 304"
[ "$(fetch "$ngx_url" "$v/n304g" 'Accept-Encoding: gzip' "If-None-Match: $ngx_etag_gz")" = 304 ] \
  || die "nginx: gzip If-None-Match with its gzip ETag is not 304"
[ ! -s "$v/r304g" ] && [ ! -s "$v/n304g" ] || die "a 304 carried a body"
plain_bytes=$(wc -c < "$v/ref.xml"); gz_bytes=$(wc -c < "$v/ref.gz"); ngx_gz_bytes=$(wc -c < "$v/ngx.gz")
echo "  feed $feed_path ($cat_name, $cat_posts posts): $plain_bytes bytes, gzip $gz_bytes (nginx's .gz $ngx_gz_bytes, $gzip_same)"
echo "  ETags: refeed $ref_etag / $ref_etag_gz, nginx $ngx_etag / $ngx_etag_gz"

meta serve_setup "Corpus of $posts_small posts; feed \`$feed_path\` (category $cat_name, $cat_posts posts; 50 items, $plain_bytes bytes, $gz_bytes gzipped). refeed: \`REFEED_FEED__LIMIT=50 REFEED_SERVER__WORKERS=1 REFEED_WEBSUB__ENABLED=false refeed serve\` (one actix worker; no hub of its own, so that its bytes are the static files', which advertise none). nginx $(nginx -v 2>&1 | sed 's/^nginx version: //'): \`worker_processes 1\`, \`sendfile on\`, \`etag on\`, \`gzip_static on\` (serving the \`.gz\` siblings \`REFEED_FEED__LIMIT=50 refeed build\` wrote), \`access_log off\`, on the build output. Both listen on 127.0.0.1; $pin_note. \`wrk -t2 -cN -d$wrk_duration --latency\`. Cases: *plain* = no Accept-Encoding; *gzip* = \`Accept-Encoding: gzip\`; *304* = \`Accept-Encoding: gzip\` + \`If-None-Match\` with the gzip ETag each server sent (a polling feed reader; refeed \`$ref_etag_gz\`, nginx \`$ngx_etag_gz\`). Verified first: identical plain bodies (\`cmp\`), both gzip bodies decompress to them (the two .gz are $gzip_same), 304 for each server's own ETag, plain and gzip."

run_wrk() { # SERVER CASE CONNS URL [HEADER...]
  local server=$1 case=$2 conns=$3 url=$4; shift 4
  local hs=() f="$tmp/wrk-$server-$case-$conns.txt"
  for x in "$@"; do hs+=(-H "$x"); done
  "${client_pin[@]}" wrk -t2 -c"$conns" -d"$wrk_duration" --latency "${hs[@]}" "$url" > "$f" 2>&1 \
    || die "wrk failed: $(tail -5 "$f")"
  h wrk --results "$results" --server "$server" --case "$case" --conns "$conns" --file "$f"
}
for case in plain gzip 304; do
  for conns in 32 256; do
    for server in refeed nginx; do
      if [ "$server" = refeed ]; then url=$ref_url etag_gz=$ref_etag_gz; else url=$ngx_url etag_gz=$ngx_etag_gz; fi
      case $case in
        plain) run_wrk "$server" "$case" "$conns" "$url" ;;
        gzip) run_wrk "$server" "$case" "$conns" "$url" 'Accept-Encoding: gzip' ;;
        304) run_wrk "$server" "$case" "$conns" "$url" 'Accept-Encoding: gzip' "If-None-Match: $etag_gz" ;;
      esac
    done
  done
done
# Subscriber counting on 304s: the same server with stats.enabled true
# (the default) and false, measured in turns so both see the same noise.
for on in true false; do
  port=$(freeport)
  start_bg refeed "$tmp/serve-stats-$on.log" env REFEED_FEED__LIMIT=50 REFEED_SERVER__WORKERS=1 REFEED_WEBSUB__ENABLED=false \
    REFEED_STATS__ENABLED=$on REFEED_STATE_DIR="$tmp/state-stats-$on" \
    "${server_pin[@]}" "$refeed" serve --source "$small_dir" --listen "127.0.0.1:$port" --log warn
  h wait-ready --port "$port" --log "$tmp/serve-stats-$on.log" --timeout 300
  eval "stats_url_$on=http://127.0.0.1:$port$feed_path"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: $ref_etag_gz" "$stats_url_false")" = 304 ] \
  || die "refeed with stats off: its ETag is not the same"
for rep in 1 2 3; do
  for conns in 32 256; do
    for on in true false; do
      url_var="stats_url_$on"
      run_wrk "counting-$on" 304 "$conns" "${!url_var}" 'Accept-Encoding: gzip' "If-None-Match: $ref_etag_gz"
    done
  done
done
cmd "REFEED_STATS__ENABLED={true,false} REFEED_FEED__LIMIT=50 REFEED_SERVER__WORKERS=1 taskset -c 0 refeed serve ...   # 304s as above, 3 turns each"
cmd "REFEED_FEED__LIMIT=50 refeed build --source CORPUS_SMALL --out WWW; nginx -p NGX -c NGX/nginx.conf   # on core 0"
cmd "REFEED_FEED__LIMIT=50 REFEED_SERVER__WORKERS=1 REFEED_WEBSUB__ENABLED=false taskset -c 0 refeed serve --source CORPUS_SMALL --listen 127.0.0.1:PORT"
cmd "taskset -c 1 wrk -t2 -c{32,256} -d$wrk_duration --latency [-H 'Accept-Encoding: gzip'] [-H 'If-None-Match: ETAG'] http://127.0.0.1:PORT$feed_path"
kill_ours

# --- 3. change ---------------------------------------------------------------------------------
step "3. change (new post, edited title; $change_reps repetitions)"
section "3. change"
for n in "${sizes[@]}"; do
  dir=$(corpus_of "$n")
  IFS=$'\t' read -r cname _ cpath < <(h pick-category --corpus "$dir" --out "$tmp/build-$n" --min 20)
  [ -n "$cpath" ] || die "no category feed for the change test ($n posts)"
  port=$(freeport)
  spid=$(h serve-startup --posts "$n" --port "$port" --pidfile "$pids" --log "$tmp/serve-change-$n.log" \
    --keep -- "$refeed" serve --source "$dir" --listen "127.0.0.1:$port" --log warn)
  [ -n "$spid" ] || die "refeed serve did not start for the change test"
  h change --results "$results" --posts "$n" --pid "$spid" --port "$port" --feed "$cpath" \
    --corpus "$dir" --category "$cname" --reps "$change_reps" --journal "$journal" --tmp "$tmp"
  kill_ours
done
meta change_setup "\`refeed serve\` with the defaults (watch on, \`watch.debounce_ms\` 50, 20 items per feed, all cores) over each corpus, once it is idle after start-up (under 2 ms of CPU in 200 ms: after \`/healthz\` turns 200 it still rescans for what changed during the first load). *new*: a post written (one \`write\`) into the most popular root category's folder, dated now; *edit*: the title of that feed's newest post rewritten in place. *visible*: from just before the write until the category feed, polled every 5 ms with \`If-None-Match\` over one keep-alive connection, returns a 200 containing the new title. *reload ms*: \`/healthz\` \`last_reload_ms\` afterwards (the last reload if there were several). *CPU ms*: refeed's on-CPU time from the write until 200 ms after it became visible (sum of \`/proc/PID/task/*/schedstat\`, ns resolution); *net of polling* subtracts what the 304 polls cost at the rate measured just before; */proc stat*: utime+stime delta (10 ms ticks, includes exited threads). Median of $change_reps; the posts are removed and the edited one restored afterwards."

# --- 4. criterion --------------------------------------------------------------------------------
step "4. criterion micro-benchmarks"
section "4. criterion"
crit="$tmp/criterion"
# The executable `cargo bench --bench hot_paths` runs, built in the build
# step: the same sources as the refeed binary measured above, even if they
# change on disk meanwhile, and no compilation inside the timed part.
(cd "$repo" && CRITERION_HOME="$crit" REFEED_BENCH_SOURCE="$small_dir" \
  "$hot_paths" --bench "${criterion_args[@]}") > "$tmp/criterion.log" 2>&1 \
  || die "benches/hot_paths.rs failed: $(tail -20 "$tmp/criterion.log")"
h criterion --results "$results" --dir "$crit"
meta criterion_setup "\`REFEED_BENCH_SOURCE=CORPUS_SMALL cargo bench --bench hot_paths -- ${criterion_args[*]}\` (benches/hot_paths.rs). \`feed/*_category50_corpus_*\` render the most popular category of the $posts_small-post corpus with 50 items; \`feed/*_site_examples_*\` the site feed of examples/posts."
cmd "REFEED_BENCH_SOURCE=CORPUS_SMALL cargo bench --bench hot_paths -- ${criterion_args[*]}   # run as the bench executable built in the build step"

# --- report ----------------------------------------------------------------------------------------
section "report"
meta load_end "$(loadavg)"
meta duration "${SECONDS} s (plus removing the temp folder)"
meta note "Other developers build on this machine at the same time: the load averages above say how noisy each section was; ratios within one section are more trustworthy than absolute numbers."
h report --results "$results" --out "$out"
step "done: $out"
