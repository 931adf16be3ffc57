# What the interop scripts share: a work folder removed on exit with every
# process they started (by pid, in `pids`), failures that show the logs,
# bounded requests and free ports. Sourced after `set -euo pipefail`;
# `extra_logs` may name logs outside `$work/*.log` to show on failure.
work=$(mktemp -d)
pids=()
extra_logs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log "${extra_logs[@]}"; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }
# No request may hang a script.
curl() { command curl --max-time 10 "$@"; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
