#!/usr/bin/env bash
# Run the kernels' GPU tests (bit-exact against the NumPy reference) and the TensorRT tests on
# the Orin, then the fused-vs-torch preprocessing benchmark. Needs jetson/build_kernels.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
export VLA_EDGE_KERNELS_LIB="${VLA_EDGE_KERNELS_LIB:-$PWD/kernels/build/libvla_kernels_cuda.so}"
export VLA_EDGE_PLUGIN_LIB="${VLA_EDGE_PLUGIN_LIB:-$PWD/kernels/build/libvla_edge_plugins.so}"
py=.venv/bin/python
[[ -x $py ]] || py=python3

$py -m pytest -q -rs tests/kernels tests/backends/trt tests/test_check.py tests/jetson
mkdir -p benchmarks/results
$py jetson/bench_preprocess.py --out "benchmarks/results/preprocess-$(hostname).json"
