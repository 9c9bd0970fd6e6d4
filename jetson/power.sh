#!/usr/bin/env bash
# Sample board power while a command runs (INA3221 rails via tegrastats), for benchmarks.
# Usage: jetson/power.sh OUT.log -- COMMAND [ARGS...]
# Writes tegrastats lines (every 100 ms) to OUT.log; prints mean VDD_IN (module input) in mW.
set -euo pipefail
out="$1"; shift
[[ "${1:-}" == "--" ]] && shift
command -v tegrastats >/dev/null || { echo "power: tegrastats not found (not a Jetson?)" >&2; exit 2; }

tegrastats --interval 100 --logfile "$out" &
pid=$!
trap 'tegrastats --stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true' EXIT
"$@"
status=$?
tegrastats --stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
trap - EXIT
# e.g. "VDD_IN 5123mW/5000mW": current/average; take the current values' mean.
grep -o 'VDD_IN [0-9]*mW' "$out" | awk '{ gsub("mW", "", $2); s += $2; n++ } END { if (n) printf "power: VDD_IN mean %.0f mW over %d samples\n", s / n, n }'
exit $status
