"""Jetson readers: detection, tegrastats, nvpmodel, jetson_clocks and sysfs clocks.

Every reader parses text (a file's content or a tool's output) in a pure function, so the
parsers are tested here with sample outputs; the thin functions that read the real files take
a `root` so tests can point them at a fake tree. A Jetson is detected from the system
(/etc/nv_tegra_release, /proc/device-tree/model), never from a command-line flag.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class JetsonInfo:
    model: str  # /proc/device-tree/model, e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: str | None  # e.g. "36.4.0"
    memory_mb: float
    profile: str | None  # vla_edge.bench.devices name, e.g. "orin-agx-64gb"


def parse_tegra_release(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.0, ...' -> '36.4.0'."""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def parse_meminfo_mb(text: str) -> float:
    m = re.search(r"MemTotal:\s+(\d+)\s*kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


def profile_for_model(model: str, memory_mb: float) -> str | None:
    """Device profile name for a device-tree model string and the memory the kernel reports."""
    text = model.lower()
    gb = memory_mb / 1024
    if "agx orin" in text or "orin agx" in text:
        return "orin-agx-64gb" if gb > 40 else "orin-agx-32gb"
    if "orin nx" in text:
        return "orin-nx-16gb" if gb > 10 else "orin-nx-8gb"
    if "orin nano" in text:
        return "orin-nano-8gb" if gb > 5 else "orin-nano-4gb"
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode(errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def detect(root: str | Path = "/") -> JetsonInfo | None:
    """A JetsonInfo when this system is a Jetson, else None."""
    root = Path(root)
    release = _read(root / "etc/nv_tegra_release")
    model = _read(root / "proc/device-tree/model") or ""
    if release is None and "jetson" not in model.lower():
        return None
    mem = parse_meminfo_mb(_read(root / "proc/meminfo") or "")
    l4t = parse_tegra_release(release) if release else None
    return JetsonInfo(model or "unknown Jetson", l4t, mem, profile_for_model(model, mem))


def is_jetson(root: str | Path = "/") -> bool:
    return detect(root) is not None


# --- tegrastats --------------------------------------------------------------------------------
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]+)\s+(\d+)mW/(\d+)mW")
_RAIL_OLD = re.compile(r"\b([A-Z][A-Z0-9_]+)\s+(\d+)/(\d+)\b")  # JetPack 4: "POM_5V_IN 2580/2580"
_TEMP = re.compile(r"\b([A-Za-z][\w]*)@(-?[\d.]+)C\b")


def parse_tegrastats(line: str) -> dict[str, Any]:
    """One tegrastats line -> RAM, CPU, GPU (GR3D), EMC, temperatures and power rails."""
    out: dict[str, Any] = {}
    if m := re.search(r"RAM (\d+)/(\d+)MB", line):
        out["ram_used_mb"], out["ram_total_mb"] = int(m.group(1)), int(m.group(2))
    if m := re.search(r"CPU \[([^\]]*)\]", line):
        cores = [c.strip() for c in m.group(1).split(",")]
        out["cpu_load"] = [_int(c.split("%")[0]) for c in cores]
        out["cpu_mhz"] = [_int(c.split("@")[1]) if "@" in c else None for c in cores]
    if m := re.search(r"GR3D_FREQ (\d+)%(?:@\[?([\d,]+)\]?)?", line):
        out["gpu_load"] = int(m.group(1))
        if m.group(2):
            out["gpu_mhz"] = max(int(f) for f in m.group(2).split(",") if f)
    if m := re.search(r"EMC_FREQ (\d+)%(?:@(\d+))?", line):
        out["emc_load"] = int(m.group(1))
        if m.group(2):
            out["emc_mhz"] = int(m.group(2))
    out["temps_c"] = {k: float(v) for k, v in _TEMP.findall(line) if float(v) > -200}
    rails = {k: int(v) for k, v, _ in _RAIL.findall(line)}
    if not rails:
        rails = {k: int(v) for k, v, _ in _RAIL_OLD.findall(line) if k.startswith(("POM", "VDD"))}
    out["rails_mw"] = rails
    total, source = total_power_mw(rails)
    if total is not None:
        out["power_mw"], out["power_source"] = total, source
    return out


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None  # "off": core powered down


def total_power_mw(rails: dict[str, int]) -> tuple[int | None, str]:
    """Module power: VDD_IN (Orin NX/Nano: the module's input) when present; else the sum of
    the rails tegrastats shows (AGX Orin has no input rail; jtop's "tot" sums them too)."""
    for name in ("VDD_IN", "POM_5V_IN"):
        if name in rails:
            return rails[name], name
    if not rails:
        return None, ""
    return sum(rails.values()), "sum of " + "+".join(sorted(rails))


# --- nvpmodel, jetson_clocks, sysfs clocks -----------------------------------------------------
def parse_nvpmodel(text: str) -> dict[str, Any]:
    """`nvpmodel -q` output ('NV Power Mode: MAXN\\n0') -> {'mode': 'MAXN', 'id': 0}."""
    out: dict[str, Any] = {}
    if m := re.search(r"NV Power Mode:\s*(\S+)", text):
        out["mode"] = m.group(1)
    if m := re.search(r"^\s*(\d+)\s*$", text, re.M):
        out["id"] = int(m.group(1))
    return out


def parse_jetson_clocks(text: str) -> dict[str, Any]:
    """`jetson_clocks --show` -> {'cpus': [{min,max,cur}], 'gpu': {...}, 'emc': {...}}."""
    out: dict[str, Any] = {"cpus": []}
    for line in text.splitlines():
        vals = {k.lower(): int(v) for k, v in re.findall(r"(\w+Freq)=(\d+)", line)}
        f = {"min": vals.get("minfreq"), "max": vals.get("maxfreq"), "cur": vals.get("currentfreq")}
        if re.match(r"\s*cpu\d+:", line) and "Online=1" in line:
            out["cpus"].append(f)
        elif line.startswith("GPU "):
            out["gpu"] = f
        elif line.startswith("EMC "):
            out["emc"] = {**f, "override": "FreqOverride=1" in line}
        elif m := re.search(r"NV Power Mode:\s*(\S+)", line):
            out["power_mode"] = m.group(1)
    return out


def clocks_from_sysfs(root: str | Path = "/") -> dict[str, Any]:
    """GPU devfreq and CPU cpufreq min/max/current (readable without root)."""
    root = Path(root)
    out: dict[str, Any] = {"cpus": []}
    for dev in sorted((root / "sys/class/devfreq").glob("*")):
        if "gpu" in dev.name or "ga10b" in dev.name or "gv11b" in dev.name:
            out["gpu"] = _freqs(dev, "min_freq", "max_freq", "cur_freq")
            break
    cpus = sorted((root / "sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq"))
    for cpu in cpus:
        out["cpus"].append(_freqs(cpu, "scaling_min_freq", "scaling_max_freq", "scaling_cur_freq"))
    return out


def _freqs(d: Path, lo: str, hi: str, cur: str) -> dict[str, int | None]:
    def num(name: str) -> int | None:
        text = _read(d / name)
        return int(text) if text and text.isdigit() else None

    return {"min": num(lo), "max": num(hi), "cur": num(cur)}


def clocks_locked(clocks: dict[str, Any]) -> tuple[bool, list[str]]:
    """(locked, reasons): locked when GPU and every online CPU run pinned at their maximum,
    as `sudo jetson_clocks` leaves them."""
    reasons = []
    gpu = clocks.get("gpu")
    if not gpu or gpu.get("min") is None:
        reasons.append("GPU clock range unknown")
    elif gpu["min"] != gpu["max"]:
        reasons.append(f"GPU clock floats between {gpu['min']} and {gpu['max']} Hz")
    floating = [i for i, c in enumerate(clocks.get("cpus", [])) if c.get("min") != c.get("max")]
    if floating:
        reasons.append(f"CPU clocks float on cores {floating}")
    emc = clocks.get("emc")
    if emc and "override" in emc and not emc["override"]:
        reasons.append("EMC (memory) clock is not pinned")
    return not reasons, reasons


def run_text(cmd: list[str], timeout: float = 5.0) -> str | None:
    """stdout of a tool found on PATH, or None when absent or failing (exit code checked)."""
    exe = shutil.which(cmd[0])
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def system_state(root: str | Path = "/") -> dict[str, Any]:
    """Power mode and clocks now, with a warning when the clocks are not locked."""
    state: dict[str, Any] = {"nvpmodel": parse_nvpmodel(run_text(["nvpmodel", "-q"]) or "")}
    shown = run_text(["jetson_clocks", "--show"])
    state["clocks"] = parse_jetson_clocks(shown) if shown else clocks_from_sysfs(root)
    locked, reasons = clocks_locked(state["clocks"])
    state["clocks_locked"] = locked
    if not locked:
        state["warning"] = (
            "clocks are not locked (" + "; ".join(reasons) + "): latency will vary with DVFS; "
            "run `sudo jetson_clocks` (and `sudo nvpmodel -m 0` for MAXN) before benchmarking"
        )
    return state


@dataclass
class TegrastatsSampler:
    """Run `tegrastats --interval N` in the background; parsed lines stamped with monotonic time.

    Power rails appear only when tegrastats runs as root; otherwise `samples` carry no power."""

    interval_ms: int = 100
    samples: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    _proc: Any = None
    _thread: Any = None

    def start(self) -> TegrastatsSampler:
        exe = shutil.which("tegrastats")
        if exe is None:
            self.note = "tegrastats not found on PATH: no power or clock samples"
            return self
        self._proc = subprocess.Popen(
            [exe, "--interval", str(self.interval_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            self.samples.append({"t": time.monotonic(), **parse_tegrastats(line)})

    def stop(self) -> list[dict[str, Any]]:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=3)
            self._thread.join(timeout=2)
        if self._proc is not None and not any("power_mw" in s for s in self.samples):
            self.note = "tegrastats shows no power rails (run as root for power readings)"
        return self.samples
