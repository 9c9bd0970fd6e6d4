"""Device profiles: what a target machine can run and how fast it could run it at best.

Every Jetson number below is NVIDIA's published module data sheet value (Jetson AGX Orin Series
Data Sheet DS-10662-001; Jetson Orin NX Series Data Sheet DS-10712-001; Jetson Orin Nano Series
Data Sheet DS-11105-001) at the module's maximum (MAXN) power mode *before* the JetPack 6.2
"Super" clocks. NVIDIA publishes sparse INT8 TOPS; the dense figure is half of it, and the FP16
tensor rate is half the INT8 rate (Ampere tensor cores). FP32 is CUDA cores x 2 x GPU clock.
The arithmetic is kept in the table so that a reader can check it.

`check` reads compute capability, TensorRT version and memory; `benchmark` reads the peaks and
the bandwidth for its roofline estimate. Generic entries (`cuda`, `h100`, `host`) describe
machines we test on, not robot computers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from vla_edge.errors import DeviceError

# JetPack 6.1 and 6.2 both ship L4T r36.4 (6.2 = r36.4.3), CUDA 12.6, TensorRT 10.3, cuDNN 9.3,
# Python 3.10 (JetPack 6.1/6.2 release notes).
JETPACK_6 = {
    "jetpack": "6.1/6.2",
    "l4t": "36.4",
    "cuda": "12.6",
    "tensorrt": "10.3",
    "cudnn": "9.3",
}
# Precisions of sm_87 (Ampere): no FP8 (needs sm_89+) and no FP4 (needs sm_100+).
ORIN_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8")
DLA_PRECISIONS = ("fp16", "int8")  # NVDLA v2.0 runs FP16 and INT8 only


@dataclass(frozen=True)
class DeviceProfile:
    """One target. Peak rates are for the GPU alone (DLA listed apart)."""

    name: str
    title: str
    kind: str  # "jetson" | "gpu" | "host"
    compute_capability: tuple[int, int] | None
    memory_gb: float  # physical memory (shared by CPU and GPU on a Jetson)
    reserved_gb: float  # what the OS, desktop-less L4T and CUDA context keep for themselves
    memory_bandwidth_gbs: float
    cuda_cores: int = 0
    tensor_cores: int = 0
    gpu_clock_mhz: int = 0
    fp32_tflops: float = 0.0
    fp16_tflops_dense: float = 0.0
    fp16_tflops_sparse: float = 0.0
    int8_tops_dense: float = 0.0
    int8_tops_sparse: float = 0.0
    dla_cores: int = 0
    dla_int8_tops_sparse: float = 0.0
    precisions: tuple[str, ...] = ORIN_PRECISIONS
    software: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def usable_memory_gb(self) -> float:
        return max(self.memory_gb - self.reserved_gb, 0.0)

    @property
    def sm(self) -> str | None:
        cc = self.compute_capability
        return f"sm_{cc[0]}{cc[1]}" if cc else None

    @property
    def tensorrt(self) -> str | None:
        return self.software.get("tensorrt")

    def supports(self, precision: str) -> bool:
        return precision.lower() in self.precisions

    def to_dict(self) -> dict:
        out = asdict(self)
        out["compute_capability"] = ".".join(map(str, self.compute_capability or ())) or None
        out["usable_memory_gb"] = self.usable_memory_gb
        return out


def _orin(
    name: str,
    title: str,
    *,
    memory_gb: float,
    reserved_gb: float,
    bw: float,
    cores: int,
    tcs: int,
    mhz: int,
    int8_sparse: float,
    dla: int,
    dla_sparse: float,
    source: str,
) -> DeviceProfile:
    return DeviceProfile(
        name=name,
        title=title,
        kind="jetson",
        compute_capability=(8, 7),
        memory_gb=memory_gb,
        reserved_gb=reserved_gb,
        memory_bandwidth_gbs=bw,
        cuda_cores=cores,
        tensor_cores=tcs,
        gpu_clock_mhz=mhz,
        fp32_tflops=round(cores * 2 * mhz * 1e6 / 1e12, 2),
        int8_tops_sparse=int8_sparse,
        int8_tops_dense=int8_sparse / 2,
        fp16_tflops_sparse=int8_sparse / 2,
        fp16_tflops_dense=int8_sparse / 4,
        dla_cores=dla,
        dla_int8_tops_sparse=dla_sparse,
        software=dict(JETPACK_6),
        source=source,
    )


_AGX = "Jetson AGX Orin Series Data Sheet (DS-10662-001)"
_NX = "Jetson Orin NX Series Data Sheet (DS-10712-001)"
_NANO = "Jetson Orin Nano Series Data Sheet (DS-11105-001)"

DEVICES: dict[str, DeviceProfile] = {
    # AGX Orin 64GB: 2048 CUDA / 64 tensor cores @ 1.3 GHz; GPU 170 sparse INT8 TOPS; 2x DLA
    # 105 sparse INT8 TOPS (275 TOPS module total); 64 GB 256-bit LPDDR5, 204.8 GB/s.
    "orin-agx-64gb": _orin(
        "orin-agx-64gb",
        "Jetson AGX Orin 64GB",
        memory_gb=64,
        reserved_gb=3,
        bw=204.8,
        cores=2048,
        tcs=64,
        mhz=1300,
        int8_sparse=170,
        dla=2,
        dla_sparse=105,
        source=_AGX,
    ),
    # AGX Orin 32GB: 1792 CUDA / 56 tensor cores @ 930 MHz; GPU 108 sparse INT8 TOPS; 2x DLA
    # 92 sparse TOPS (200 TOPS total); 32 GB 256-bit LPDDR5, 204.8 GB/s.
    "orin-agx-32gb": _orin(
        "orin-agx-32gb",
        "Jetson AGX Orin 32GB",
        memory_gb=32,
        reserved_gb=2.5,
        bw=204.8,
        cores=1792,
        tcs=56,
        mhz=930,
        int8_sparse=108,
        dla=2,
        dla_sparse=92,
        source=_AGX,
    ),
    # Orin NX 16GB: 1024 CUDA / 32 tensor cores @ 918 MHz; GPU 60 sparse INT8 TOPS; 2x DLA
    # 40 sparse TOPS (100 TOPS total); 16 GB 128-bit LPDDR5, 102.4 GB/s.
    "orin-nx-16gb": _orin(
        "orin-nx-16gb",
        "Jetson Orin NX 16GB",
        memory_gb=16,
        reserved_gb=2,
        bw=102.4,
        cores=1024,
        tcs=32,
        mhz=918,
        int8_sparse=60,
        dla=2,
        dla_sparse=40,
        source=_NX,
    ),
    # Orin NX 8GB: 1024 CUDA / 32 tensor cores @ 765 MHz; GPU 50 sparse INT8 TOPS; 1x DLA
    # 20 sparse TOPS (70 TOPS total); 8 GB 128-bit LPDDR5, 102.4 GB/s.
    "orin-nx-8gb": _orin(
        "orin-nx-8gb",
        "Jetson Orin NX 8GB",
        memory_gb=8,
        reserved_gb=1.5,
        bw=102.4,
        cores=1024,
        tcs=32,
        mhz=765,
        int8_sparse=50,
        dla=1,
        dla_sparse=20,
        source=_NX,
    ),
    # Orin Nano 8GB: 1024 CUDA / 32 tensor cores @ 625 MHz; 40 sparse INT8 TOPS; no DLA;
    # 8 GB 128-bit LPDDR5, 68 GB/s. (JetPack 6.2 "Super": 1020 MHz, 67 TOPS, 102 GB/s.)
    "orin-nano-8gb": _orin(
        "orin-nano-8gb",
        "Jetson Orin Nano 8GB",
        memory_gb=8,
        reserved_gb=1.5,
        bw=68,
        cores=1024,
        tcs=32,
        mhz=625,
        int8_sparse=40,
        dla=0,
        dla_sparse=0,
        source=_NANO,
    ),
    # Orin Nano 4GB: 512 CUDA / 16 tensor cores @ 625 MHz; 20 sparse INT8 TOPS; no DLA;
    # 4 GB 64-bit LPDDR5, 34 GB/s. (Super: 1020 MHz, 34 TOPS, 51 GB/s.)
    "orin-nano-4gb": _orin(
        "orin-nano-4gb",
        "Jetson Orin Nano 4GB",
        memory_gb=4,
        reserved_gb=1.2,
        bw=34,
        cores=512,
        tcs=16,
        mhz=625,
        int8_sparse=20,
        dla=0,
        dla_sparse=0,
        source=_NANO,
    ),
    # H100 SXM5 80GB (NVIDIA H100 Tensor Core GPU data sheet): 3.35 TB/s HBM3, FP32 67 TFLOPS,
    # FP16 tensor 989.4 dense, INT8 1978.9 dense TOPS (sparse doubles); FP8 supported on sm_90.
    "h100": DeviceProfile(
        name="h100",
        title="NVIDIA H100 SXM5 80GB",
        kind="gpu",
        compute_capability=(9, 0),
        memory_gb=80,
        reserved_gb=1,
        memory_bandwidth_gbs=3350,
        cuda_cores=16896,
        tensor_cores=528,
        gpu_clock_mhz=1980,
        fp32_tflops=67,
        fp16_tflops_dense=989.4,
        fp16_tflops_sparse=1978.9,
        int8_tops_dense=1978.9,
        int8_tops_sparse=3957.8,
        precisions=("fp32", "tf32", "fp16", "bf16", "int8", "fp8"),
        software={"tensorrt": "10.3"},
        source="NVIDIA H100 Tensor Core GPU data sheet",
    ),
    # Any CUDA GPU: capabilities unknown until probed; checks use the TensorRT 10.3 rules only.
    "cuda": DeviceProfile(
        name="cuda",
        title="a CUDA GPU (probed at run time)",
        kind="gpu",
        compute_capability=None,
        memory_gb=0,
        reserved_gb=0,
        memory_bandwidth_gbs=0,
        precisions=("fp32", "tf32", "fp16", "bf16", "int8"),
        software={"tensorrt": "10.3"},
    ),
    # This machine's CPU: no TensorRT. Listed so `benchmark --device host` has a profile.
    "host": DeviceProfile(
        name="host",
        title="host CPU (ONNX Runtime)",
        kind="host",
        compute_capability=None,
        memory_gb=0,
        reserved_gb=0,
        memory_bandwidth_gbs=0,
        precisions=("fp32", "fp16", "int8"),
    ),
}

ALIASES = {
    "orin": "orin-agx-64gb",
    "orin-agx": "orin-agx-64gb",
    "orin-nx": "orin-nx-16gb",
    "orin-nano": "orin-nano-8gb",
    "agx-orin": "orin-agx-64gb",
}


def get_device(name: str) -> DeviceProfile:
    """The profile called `name` (or an alias such as `orin-agx`); DeviceError lists the rest."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in DEVICES:
        known = sorted([*DEVICES, *ALIASES])
        raise DeviceError(f"unknown device {name!r}: known devices are {', '.join(known)}")
    return DEVICES[key]


def jetson_devices() -> list[DeviceProfile]:
    return [d for d in DEVICES.values() if d.kind == "jetson"]
