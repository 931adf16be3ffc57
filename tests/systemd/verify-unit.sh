#!/usr/bin/env bash
# Checks examples/refeed.service with systemd's own tools:
#   bash tests/systemd/verify-unit.sh path/to/refeed
# `systemd-analyze verify` wants every program the unit runs to exist and
# its man: documentation to be installed, so it checks a copy of the unit
# whose ExecStart is the given binary, with the man pages that binary
# writes on MANPATH. It exits 0 on mere warnings (an unknown key, a bad
# value): any output fails here. `security --offline` scores the sandbox
# without a running systemd; above 1.5 fails (README, "Operations").
set -euo pipefail

refeed=$(realpath "${1:?usage: verify-unit.sh path/to/refeed}")
[ -x "$refeed" ] || { echo "FATAL: $refeed is not an executable" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "FATAL: systemd-analyze is not installed" >&2; exit 1; }
command -v man >/dev/null || { echo "FATAL: man is not installed" >&2; exit 1; }
unit="$(dirname "$0")/../../examples/refeed.service"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed "s|^ExecStart=/usr/local/bin/refeed |ExecStart=$refeed |" "$unit" > "$work/refeed.service"
grep -q "^ExecStart=$refeed serve$" "$work/refeed.service" \
  || { echo "FATAL: the unit's ExecStart is not /usr/local/bin/refeed serve" >&2; exit 1; }
mkdir -p "$work/man/man1"
"$refeed" man "$work/man/man1"

out=$(MANPATH="$work/man" systemd-analyze verify "$work/refeed.service" 2>&1) \
  || { echo "FATAL: systemd-analyze verify failed:" >&2; echo "$out" >&2; exit 1; }
[ -z "$out" ] || { echo "FATAL: systemd-analyze verify warns:" >&2; echo "$out" >&2; exit 1; }
echo "systemd-analyze verify: no warnings"

systemd-analyze security --offline=true --no-pager "$work/refeed.service" | tail -n 1
systemd-analyze security --offline=true --threshold=15 "$work/refeed.service" >/dev/null \
  || { echo "FATAL: the unit's exposure is above 1.5" >&2; exit 1; }
