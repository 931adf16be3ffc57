#!/usr/bin/env bash
# Interop of refeed's WebSub hub with a subscriber nobody here wrote:
# flask-websub's (PyPI) discovers the hub and topic from the site feed's
# Link headers, subscribes through refeed's hub, answers its verification,
# and receives the new feed after a post is written into the source folder.
# Usage: tests/interop/websub.sh path/to/refeed
# Every process it starts is stopped on exit; every wait is bounded.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 path/to/refeed" >&2; exit 2; }
refeed=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/interop/lib.sh
source "$repo/tests/interop/lib.sh"
# wait_for WHAT COMMAND...: polls for 15 s at most.
wait_for() {
  local what=$1
  shift
  for _ in $(seq 150); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "timed out waiting for $what"
}

cp -r "$repo/examples/posts" "$work/posts"
mkdir "$work/sub"
port=$(free_port)
base="http://127.0.0.1:$port"
# The subscriber listens on loopback: allowed here, refused by default.
env -u REFEED_CONFIG -u REFEED_LOG REFEED_SERVER__WORKERS=1 \
  REFEED_URL="$base/" REFEED_STATE_DIR="$work/state" \
  REFEED_WEBSUB__ALLOW_PRIVATE_CALLBACKS=true \
  "$refeed" serve --source "$work/posts" --listen "127.0.0.1:$port" --log info \
  >/dev/null 2>"$work/refeed.log" &
pids+=($!)
wait_for "refeed's first load" curl -sf "$base/healthz"

link=$(curl -sI "$base/rss.xml" | tr -d '\r' | sed -n 's/^[Ll]ink: //p')
[ "$link" = "<$base/websub>; rel=\"hub\", <$base/rss.xml>; rel=\"self\"" ] \
  || fail "Link header of /rss.xml: $link"

sub_port=$(free_port)
python3 "$repo/tests/interop/websub_subscriber.py" "$base/rss.xml" "$sub_port" "$work/sub" \
  >"$work/subscriber.log" 2>&1 &
pids+=($!)
wait_for "flask-websub's subscription to be verified" test -f "$work/sub/subscribed"
[ ! -f "$work/sub/error" ] || fail "subscriber error: $(cat "$work/sub/error")"
grep -q "^subscribe $base/rss.xml$" "$work/sub/subscribed" || fail "subscribed to $(cat "$work/sub/subscribed")"
subs=$(curl -s "$base/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["websub"]["subscriptions"])')
[ "$subs" = 1 ] || fail "/healthz shows $subs subscriptions"
ok "flask-websub discovered the hub from Link headers, subscribed and was verified"

cat >"$work/posts/pushed.md" <<'POST'
---
title: Pushed to flask-websub
date: 2030-01-01 09:00:00
categories: [Push]
---

Delivered by refeed's hub.
POST
wait_for "the delivery" test -f "$work/sub/delivery-1"
grep -q "Pushed to flask-websub" "$work/sub/delivery-1" || fail "the delivery lacks the new post"
curl -s "$base/rss.xml" >"$work/served.xml"
cmp -s "$work/sub/delivery-1" "$work/served.xml" || fail "the delivery differs from the feed served"
ok "flask-websub received the new feed after a file change, as served"
