#!/usr/bin/env bash
# Compile every CUDA source of kernels/ for Jetson Orin (sm_87) and Hopper (sm_90) with nvcc,
# and the host build with the system C++ compiler. Fails (non-zero exit) if anything does not
# compile. No GPU needed. Usage: kernels/ci_compile.sh [OUT_DIR]
#   NVCC=/path/to/nvcc, CXX=g++ and CUDA_ARCHS="87 90" override the defaults.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
nvcc="${NVCC:-$(command -v nvcc || true)}"
cxx="${CXX:-$(command -v c++ || command -v g++ || true)}"
archs="${CUDA_ARCHS:-87 90}"

if [[ -z "$nvcc" ]]; then
    echo "ci_compile: nvcc not found on PATH (set NVCC=...)" >&2
    exit 2
fi
if [[ -z "$cxx" ]]; then
    echo "ci_compile: no C++ compiler found (set CXX=...)" >&2
    exit 2
fi

gencode=()
for a in $archs; do gencode+=("-gencode=arch=compute_${a},code=sm_${a}"); done

echo "ci_compile: $("$nvcc" --version | tail -n 2 | head -n 1)"
echo "ci_compile: archs: $archs -> $out"
status=0
mapfile -t sources < <(find "$here" -name '*.cu' -not -path '*/build/*' | sort)
for src in "${sources[@]}"; do
    obj="$out/$(basename "${src%.cu}").o"
    if "$nvcc" -std=c++17 -O3 -Xcompiler -fPIC,-Wall -Werror all-warnings "${gencode[@]}" \
        -c "$src" -o "$obj"; then
        echo "  ok   ${src#"$here"/}"
    else
        echo "  FAIL ${src#"$here"/}" >&2
        status=1
    fi
done

# The launchers link into one shared library (what the runner loads).
if [[ $status -eq 0 ]]; then
    "$nvcc" -shared "${gencode[@]}" "$out"/*.o -o "$out/libvla_kernels_cuda.so"
    echo "  ok   libvla_kernels_cuda.so"
fi

# Host build: the same __host__ __device__ headers as plain C++ (what the CPU tests run).
if "$cxx" -O2 -std=c++17 -ffp-contract=off -fPIC -shared -Wall -Wextra -Werror \
    "$here/host/host_kernels.cpp" -o "$out/libvla_kernels_host.so"; then
    echo "  ok   host/host_kernels.cpp"
else
    echo "  FAIL host/host_kernels.cpp" >&2
    status=1
fi

# TensorRT plugins: compile (no link) against TensorRT headers when TENSORRT_INCLUDE names them
# (e.g. JetPack's /usr/include/aarch64-linux-gnu, or include/ of NVIDIA/TensorRT tag v10.3.0).
if [[ -n "${TENSORRT_INCLUDE:-}" ]]; then
    cuda_inc="$(dirname "$(dirname "$(readlink -f "$nvcc")")")/include"
    for src in "$here"/plugins/*.cpp; do
        if "$cxx" -std=c++17 -fsyntax-only -Wall -Wno-deprecated-declarations \
            -I"$TENSORRT_INCLUDE" -I"$cuda_inc" ${CUDA_INCLUDE:+-I"$CUDA_INCLUDE"} "$src"; then
            echo "  ok   ${src#"$here"/} (TensorRT headers: $TENSORRT_INCLUDE)"
        else
            echo "  FAIL ${src#"$here"/}" >&2
            status=1
        fi
    done
else
    echo "  skip plugins/*.cpp (set TENSORRT_INCLUDE to compile them against TensorRT headers)"
fi

# Check that each cubin really targets the requested architectures.
if [[ $status -eq 0 ]] && command -v cuobjdump >/dev/null; then
    for a in $archs; do
        if ! cuobjdump --list-elf "$out/libvla_kernels_cuda.so" | grep -q "sm_${a}"; then
            echo "  FAIL no sm_${a} code in libvla_kernels_cuda.so" >&2
            status=1
        fi
    done
fi

exit $status
