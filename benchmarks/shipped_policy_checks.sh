#!/usr/bin/env bash
# The shipped mt10-bins policy through export, check (FP16 and INT8), the Orin estimate and a
# closed-loop `vla-edge run` on the simulator; every command and its output is recorded.
# Needs the demonstrations for INT8 calibration: vla-edge sim demos --suite mt10 --episodes 30 -o data/mt10-demos
set -uo pipefail
OUT=${1:-benchmarks/results/shipped_policy_checks.md}
W=$(mktemp -d)
run() { echo; echo '```'; echo "\$ $*"; "$@" 2>&1 | grep -v '^eval:'; echo "(exit $?)"; echo '```'; }
{
  echo "# Shipped mt10-bins: check, Orin estimate, closed-loop run ($(date -u +%F' '%H:%M' UTC'), load $(cut -d' ' -f1 /proc/loadavg))"
  run vla-edge export vla_edge/assets/policies/mt10-bins -o "$W/bins"
  run vla-edge quantize "$W/bins" --precision fp16 -o "$W/bins-fp16"
  run vla-edge quantize "$W/bins" --precision int8 --calib data/mt10-demos -o "$W/bins-int8"
  run vla-edge check "$W/bins-fp16" --device orin-agx
  run vla-edge check "$W/bins-fp16" --device orin-nano
  run vla-edge check "$W/bins-int8" --device orin-agx --precision int8
  run vla-edge check "$W/bins" --device orin-nano --precision fp8
  run vla-edge benchmark "$W/bins" --device orin
  run vla-edge run "$W/bins" --sim mt10:drawer-open-v3 --rate 10 --duration 25 --quiet
} > "$OUT"
rm -rf "$W"
echo "wrote $OUT"
