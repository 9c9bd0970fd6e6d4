#!/usr/bin/env bash
# Set the Orin's power mode and lock clocks for repeatable latency (benchmarks, the control loop).
# Usage: sudo jetson/clocks.sh [MODE] [--restore]
#   MODE: a power mode name or id from /etc/nvpmodel.conf (e.g. MAXN, MAXN_SUPER, 15W, 0).
#   --restore: undo jetson_clocks (restores the saved clock settings).
# Prints the resulting mode and GPU frequency so a benchmark can record them.
set -euo pipefail
state=/var/lib/vla-edge/jetson_clocks.conf
mode="${1:-}"

if [[ ! -f /etc/nv_tegra_release ]]; then
    echo "clocks: not a Jetson" >&2; exit 2
fi
if [[ $EUID -ne 0 ]]; then
    echo "clocks: run as root (sudo)" >&2; exit 2
fi
command -v nvpmodel >/dev/null || { echo "clocks: nvpmodel not found" >&2; exit 2; }

if [[ "$mode" == "--restore" ]]; then
    [[ -f $state ]] && jetson_clocks --restore "$state"
    echo "clocks: restored"; exit 0
fi

if [[ -n "$mode" ]]; then
    if [[ "$mode" =~ ^[0-9]+$ ]]; then
        id="$mode"
    else
        id="$(awk -v m="$mode" '/< POWER_MODEL/ { if ($0 ~ "NAME="m" ") { match($0, /ID=[0-9]+/); print substr($0, RSTART+3, RLENGTH-3) } }' /etc/nvpmodel.conf | head -n 1)"
    fi
    [[ -n "$id" ]] || { echo "clocks: unknown power mode $mode (see /etc/nvpmodel.conf)" >&2; exit 2; }
    nvpmodel -m "$id"
fi

mkdir -p "$(dirname "$state")"
[[ -f $state ]] || jetson_clocks --store "$state"
jetson_clocks
nvpmodel -q | head -n 2
for f in /sys/devices/platform/*gpu*/devfreq/*/cur_freq /sys/devices/gpu.0/devfreq/*/cur_freq; do
    [[ -r $f ]] && echo "gpu_freq_hz $(cat "$f")" && break
done
