#!/usr/bin/env bash
# One-time setup of a Jetson Orin (JetPack 6.1/6.2: L4T r36.4, CUDA 12.6, TensorRT 10.3,
# Python 3.10) for vla-edge. Run on the Orin from a vla-edge checkout: jetson/setup.sh
# Installs JetPack's TensorRT Python bindings, creates .venv with system site packages (so
# `import tensorrt` works), installs vla-edge[jetson] and builds the kernels and plugins.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f /etc/nv_tegra_release ]]; then
    echo "setup: not a Jetson (no /etc/nv_tegra_release); this script is for the Orin" >&2
    exit 2
fi
echo "setup: $(head -n 1 /etc/nv_tegra_release)"
if ! grep -q "R36" /etc/nv_tegra_release; then
    echo "setup: warning: vla-edge targets JetPack 6.1/6.2 (L4T r36.4); engines built here will" \
         "only run on this L4T release" >&2
fi

sudo apt-get update
sudo apt-get install -y python3-venv python3-dev python3-libnvinfer python3-libnvinfer-dev \
    libnvinfer-dev cmake build-essential

export PATH="/usr/local/cuda/bin:$PATH"
command -v nvcc >/dev/null || { echo "setup: nvcc not found: install the CUDA toolkit (nvidia-jetpack)" >&2; exit 2; }

python3 -m venv --system-site-packages .venv
.venv/bin/pip install -q --upgrade pip
# The runtime needs no torch: vla-edge[jetson] is numpy/onnx/onnxruntime/tokenizers/pycuda. For the
# torch backend or an export on the Orin, install NVIDIA's JetPack 6 torch wheel, then '.[export]'.
.venv/bin/pip install -q -e '.[jetson]' 'pytest>=8'  # pytest: jetson/test_kernels.sh
.venv/bin/python -c "import tensorrt, pycuda.driver; print('tensorrt', tensorrt.__version__)"

jetson/build_kernels.sh
echo "setup: done. Next: jetson/test_kernels.sh, then \`vla-edge build BUNDLE --device orin-agx\`"
