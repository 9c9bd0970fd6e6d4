from pathlib import Path

import pytest

from vla_edge.bench import jetson

SAMPLES = Path(__file__).parent / "samples"


def lines(name):
    return (SAMPLES / name).read_text().splitlines()


def test_tegrastats_agx_orin():
    s = jetson.parse_tegrastats(lines("tegrastats_agx_orin.txt")[0])
    assert (s["ram_used_mb"], s["ram_total_mb"]) == (5120, 62780)
    assert s["gpu_load"] == 87 and s["gpu_mhz"] == 1300
    assert s["emc_load"] == 23 and s["emc_mhz"] == 3199
    assert s["cpu_load"][:2] == [35, 12] and s["cpu_load"][-1] is None  # "off" core
    assert s["cpu_mhz"][0] == 2201
    assert s["rails_mw"]["VDD_GPU_SOC"] == 14210  # current value, not the running average
    # AGX Orin has no input rail: total is the sum of the rails shown
    assert s["power_mw"] == 14210 + 3120 + 5400 + 1890
    assert s["power_source"].startswith("sum of")
    assert s["temps_c"]["GPU"] == 51.7 and "CV0" not in s["temps_c"]  # -256C: sensor off


def test_tegrastats_orin_nano():
    s = jetson.parse_tegrastats(lines("tegrastats_orin_nano.txt")[0])
    assert s["ram_total_mb"] == 7620
    assert s["gpu_load"] == 96 and s["gpu_mhz"] == 624
    assert s["power_mw"] == 7350 and s["power_source"] == "VDD_IN"
    assert s["rails_mw"] == {"VDD_IN": 7350, "VDD_CPU_GPU_CV": 3400, "VDD_SOC": 1890}
    assert s["temps_c"]["gpu"] == 52.4


def test_tegrastats_without_root_has_no_power():
    line = "RAM 3310/7620MB (lfb 120x4MB) CPU [22%@1510] GR3D_FREQ 0%@[306] gpu@45C"
    s = jetson.parse_tegrastats(line)
    assert "power_mw" not in s and s["gpu_load"] == 0


def test_nvpmodel():
    assert jetson.parse_nvpmodel("NV Power Mode: MAXN\n0\n") == {"mode": "MAXN", "id": 0}
    assert jetson.parse_nvpmodel("NV Power Mode: 15W\n1")["mode"] == "15W"


def test_jetson_clocks_show_unlocked_and_locked():
    unlocked = jetson.parse_jetson_clocks((SAMPLES / "jetson_clocks_show_unlocked.txt").read_text())
    assert len(unlocked["cpus"]) == 2  # cpu8 is offline
    assert unlocked["gpu"] == {"min": 306000000, "max": 1300500000, "cur": 306000000}
    assert unlocked["power_mode"] == "MAXN"
    ok, reasons = jetson.clocks_locked(unlocked)
    assert not ok and any("GPU" in r for r in reasons) and any("EMC" in r for r in reasons)
    locked = jetson.parse_jetson_clocks((SAMPLES / "jetson_clocks_show_locked.txt").read_text())
    assert jetson.clocks_locked(locked) == (True, [])


def test_not_a_jetson_here():
    assert not jetson.is_jetson()
    assert jetson.detect() is None


def _fake_root(tmp_path, model, mem_kb):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n"
    )
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_bytes(model.encode() + b"\x00")
    (tmp_path / "proc/meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree: 1 kB\n")
    return tmp_path


@pytest.mark.parametrize(
    "model,mem_kb,profile",
    [
        ("NVIDIA Jetson AGX Orin Developer Kit", 64_287_000, "orin-agx-64gb"),
        ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 15_656_000, "orin-nx-16gb"),
        ("NVIDIA Jetson Orin Nano Developer Kit", 7_802_000, "orin-nano-8gb"),
        ("NVIDIA Jetson Orin Nano Developer Kit", 3_800_000, "orin-nano-4gb"),
    ],
)
def test_detect_from_a_fake_system(tmp_path, model, mem_kb, profile):
    info = jetson.detect(_fake_root(tmp_path, model, mem_kb))
    assert info is not None and info.profile == profile
    assert info.l4t == "36.4.3" and info.model == model


def test_sysfs_clocks_from_fake_tree(tmp_path):
    gpu = tmp_path / "sys/class/devfreq/17000000.gpu"
    gpu.mkdir(parents=True)
    for name, v in (("min_freq", 306000000), ("max_freq", 1300500000), ("cur_freq", 306000000)):
        (gpu / name).write_text(f"{v}\n")
    cpu = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    cpu.mkdir(parents=True)
    for name in ("scaling_min_freq", "scaling_max_freq", "scaling_cur_freq"):
        (cpu / name).write_text("2201600\n")
    clocks = jetson.clocks_from_sysfs(tmp_path)
    assert clocks["gpu"]["max"] == 1300500000 and clocks["cpus"][0]["min"] == 2201600
    ok, reasons = jetson.clocks_locked(clocks)
    assert not ok and reasons == ["GPU clock floats between 306000000 and 1300500000 Hz"]
