"""--force replaces only vla-edge outputs that are not inputs; replacement is atomic."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vla_edge.cli.main import app
from vla_edge.errors import OutputError
from vla_edge.outputs import PartialDir, check_output

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def tree(root: Path) -> dict[str, str]:
    """Every file (and directory) under root with its sha256: equal trees, equal dicts."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def user_dir(tmp_path):
    u = tmp_path / "u"
    (u / "data").mkdir(parents=True)
    (u / "NOTES.txt").write_text("x\n")
    (u / "data" / "run.csv").write_text("1,2\n")
    return u


@pytest.fixture
def ckpt_copy(tiny_checkpoint, tmp_path):
    dst = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint("bins"), dst)
    (dst / "README.md").write_text("my notes\n")
    return dst


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(tiny_bundle("bins"), dst)
    return dst


def refused(r, *names: str) -> None:
    assert r.exit_code != 0, r.output
    assert "Traceback" not in r.output, r.output
    for name in names:
        assert name in r.output, r.output


def test_force_refuses_a_directory_that_is_not_ours(ckpt_copy, user_dir):
    before = tree(user_dir)
    r = invoke("export", ckpt_copy, "-o", user_dir, "--force")
    refused(r, str(user_dir), "NOTES.txt", "data/", "not a vla-edge bundle")
    assert tree(user_dir) == before
    assert sorted(p.name for p in user_dir.parent.iterdir()) == ["ck", "u"]


def test_force_refuses_the_input_itself(ckpt_copy, bundle_copy):
    before = tree(ckpt_copy)
    r = invoke("export", ckpt_copy, "-o", ckpt_copy, "--force")
    refused(r, str(ckpt_copy), "is the input")
    assert tree(ckpt_copy) == before
    before = tree(bundle_copy)
    r = invoke("quantize", bundle_copy, "--precision", "fp16", "-o", bundle_copy, "--force")
    refused(r, str(bundle_copy), "is the input")
    assert tree(bundle_copy) == before


def test_output_inside_or_around_the_input_is_refused(ckpt_copy):
    before = tree(ckpt_copy.parent)
    r = invoke("export", ckpt_copy, "-o", ckpt_copy / "bundle")
    refused(r, "is inside the input", str(ckpt_copy))
    r = invoke("export", ckpt_copy, "-o", ckpt_copy.parent, "--force")
    refused(r, "contains the input", str(ckpt_copy))
    assert tree(ckpt_copy.parent) == before


def test_force_replaces_a_bundle_atomically(tiny_checkpoint, bundle_copy):
    old = tree(bundle_copy)
    r = invoke("export", tiny_checkpoint("continuous"), "-o", bundle_copy, "--force")
    assert r.exit_code == 0, r.output
    assert tree(bundle_copy) != old and (bundle_copy / "manifest.json").is_file()
    assert [p.name for p in bundle_copy.parent.iterdir() if p.name.startswith(".")] == []


def test_force_refuses_a_bundle_holding_foreign_files(tiny_checkpoint, bundle_copy):
    (bundle_copy / "NOTES.txt").write_text("mine\n")
    before = tree(bundle_copy)
    r = invoke("export", tiny_checkpoint("bins"), "-o", bundle_copy, "--force")
    refused(r, str(bundle_copy), "NOTES.txt", "not part of it")
    assert tree(bundle_copy) == before


def test_existing_output_without_force_and_file_output(ckpt_copy, bundle_copy, tmp_path):
    before = tree(bundle_copy)
    refused(invoke("export", ckpt_copy, "-o", bundle_copy), "already exists", "--force")
    assert tree(bundle_copy) == before
    f = tmp_path / "file.txt"
    f.write_text("keep\n")
    refused(invoke("export", ckpt_copy, "-o", f, "--force"), str(f), "is a file")
    assert f.read_text() == "keep\n"


def test_every_writing_command_refuses_foreign_directories(user_dir, ckpt_copy, bundle_copy):
    before = tree(user_dir)
    data = user_dir.parent / "missing-demos"  # refused before the data is even opened
    for args in (
        ("model", "create", "--preset", "tiny", "-o", user_dir, "--force"),
        ("quantize", bundle_copy, "--precision", "fp16", "-o", user_dir, "--force"),
        ("prune", ckpt_copy, "--data", data, "--ratio", "0.5", "-o", user_dir, "--force"),
        ("prune", ckpt_copy, "--data", data, "-o", user_dir, "--resume"),
        ("distill", ckpt_copy, "--data", data, "-o", user_dir, "--force"),
        (
            "distill",
            ckpt_copy,
            "--data",
            data,
            "-o",
            user_dir.parent / "s",
            "--export",
            user_dir,
            "--force",
        ),  # fmt: skip
        ("train", "--data", data, "-o", user_dir),
    ):
        refused(invoke(*args), str(user_dir), "NOTES.txt")
        assert tree(user_dir) == before, args


def test_library_writers_refuse_too(user_dir, ckpt_copy):
    from vla_edge.bundle import BundleWriter
    from vla_edge.policy.checkpoints import create_checkpoint

    before = tree(user_dir)
    with pytest.raises(OutputError, match="NOTES.txt"):
        BundleWriter(user_dir, force=True)
    with pytest.raises(OutputError, match="is the input"):
        BundleWriter(ckpt_copy, force=True, inputs=(ckpt_copy,))
    with pytest.raises(OutputError, match="data/"):
        create_checkpoint(user_dir, "tiny", "bins", None, ("front",), 4, 8, "own", 0, True)
    assert tree(user_dir) == before


def test_partial_dir_keeps_the_old_one_until_the_new_one_is_complete(bundle_copy):
    before = tree(bundle_copy)
    with pytest.raises(RuntimeError), PartialDir(bundle_copy) as p:
        (p.path / "x.onnx").write_bytes(b"new")
        raise RuntimeError("failed half way")
    assert tree(bundle_copy) == before
    with PartialDir(bundle_copy) as p:
        (p.path / "x.onnx").write_bytes(b"new")
        p.commit()
    assert tree(bundle_copy) == {"x.onnx": hashlib.sha256(b"new").hexdigest()}
    assert [q.name for q in bundle_copy.parent.iterdir()] == ["b"]


def test_empty_directory_and_symlink(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output(empty, force=False) == empty  # nothing there to lose
    link = tmp_path / "link"
    link.symlink_to(empty)
    with pytest.raises(OutputError, match="symbolic link"):
        check_output(link, force=True)


# --- partial directories: removed on SIGTERM, stale ones cleaned at the next write ------------
def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_sigterm_during_export_removes_the_partial_directory(tiny_checkpoint, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "b"
    cmd = [sys.executable, "-c", "from vla_edge.cli.main import main; main()", "export",
           str(tiny_checkpoint("bins")), "-o", str(out)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300  # importing torch under load can be slow
    while not list(tmp_path.glob(".b.partial-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "export never started writing"
        time.sleep(0.02)
    partials = list(tmp_path.glob(".b.partial-*"))
    assert partials and partials[0].name.startswith(f".b.partial-{proc.pid}-")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert b"SIGTERM" in err and b"Traceback" not in err, err.decode()
    assert list(tmp_path.iterdir()) == [], "the partial directory was left behind"


def test_stale_partials_of_dead_processes_are_removed_at_the_next_write(bundle_copy, capfd):
    pid = _dead_pid()
    stale = bundle_copy.with_name(f".b.partial-{pid}-0badc0de")
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "policy.onnx").write_bytes(b"half")
    other = bundle_copy.with_name(f".other.partial-{pid}-0badc0de")  # another output: untouched
    other.mkdir()
    alive = bundle_copy.with_name(f".b.partial-{os.getpid()}-00000001")  # a live writer (us)
    alive.mkdir()
    with PartialDir(bundle_copy) as p:
        (p.path / "x").write_text("new")
        p.commit()
    assert not stale.exists() and other.exists() and alive.exists()
    err = capfd.readouterr().err
    assert stale.name in err and f"process {pid}" in err


def test_a_swap_cut_short_is_put_back(bundle_copy, capfd):
    before = tree(bundle_copy)
    old = bundle_copy.with_name(f".b.old-{_dead_pid()}-0badc0de")
    bundle_copy.rename(old)  # killed between "old aside" and "new in"
    with pytest.raises(RuntimeError), PartialDir(bundle_copy):
        raise RuntimeError("the next export fails too")
    assert tree(bundle_copy) == before and not old.exists()
    assert "restored" in capfd.readouterr().err


def test_ctrl_c_removes_the_partial_and_keeps_the_old(bundle_copy):
    before = tree(bundle_copy)
    with pytest.raises(KeyboardInterrupt), PartialDir(bundle_copy) as p:
        (p.path / "x.onnx").write_bytes(b"half")
        raise KeyboardInterrupt
    assert tree(bundle_copy) == before
    assert [q.name for q in bundle_copy.parent.iterdir()] == ["b"]


def test_a_staged_bundle_replaces_the_old_only_once_it_is_committed(bundle_copy):
    """export_lerobot stages its bundle inside the partial directory while LeRobot's own
    pipeline checks it: a failed check leaves the old bundle; commit(inner) swaps it in."""
    before = tree(bundle_copy)
    with pytest.raises(RuntimeError), PartialDir(bundle_copy) as stage:
        (stage.path / "b").mkdir()
        raise RuntimeError("pipeline parity failed")
    assert tree(bundle_copy) == before
    with PartialDir(bundle_copy) as stage:
        (stage.path / "b").mkdir()
        (stage.path / "b" / "new.onnx").write_bytes(b"new")
        stage.commit(stage.path / "b")
    assert list(tree(bundle_copy)) == ["new.onnx"]
    assert [q.name for q in bundle_copy.parent.iterdir()] == ["b"]


def test_a_partial_of_unknown_origin_is_named_not_removed(bundle_copy, capfd):
    odd = bundle_copy.with_name(".b.partial-k3j2h1")  # no pid: an older vla-edge's
    odd.mkdir()
    with PartialDir(bundle_copy):
        pass
    assert odd.exists() and str(odd) in capfd.readouterr().err


# --- directories of fixed-name files (benchmark --report, run --profile) -----------------------
def test_report_dir_new_empty_or_earlier_report_is_accepted(tmp_path):
    from vla_edge.outputs import check_report_dir

    names = ("report.json", "report.md")
    assert check_report_dir(tmp_path / "new", names) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_report_dir(tmp_path / "empty", names)
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "report.md").write_text("# an earlier report\n")
    check_report_dir(tmp_path / "earlier", names)


def test_report_dir_refuses_file_foreign_dir_and_input(tmp_path):
    from vla_edge.errors import OutputError
    from vla_edge.outputs import check_report_dir

    names = ("report.json", "report.md")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_report_dir(tmp_path / "f.txt", names)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "report.md").write_text("mine")
    (tmp_path / "mine" / "data").mkdir()
    with pytest.raises(OutputError, match="holds data/"):
        check_report_dir(tmp_path / "mine", names)
    (tmp_path / "bundle").mkdir()
    with pytest.raises(OutputError, match="inside the input"):
        check_report_dir(tmp_path / "bundle" / "rep", names, inputs=[tmp_path / "bundle"])


def test_profile_written_twice_into_the_same_directory(tmp_path):
    """A second run may replace its own earlier profile (only the profile's file names there)."""
    from vla_edge.runtime.profile import PROFILE_FILES, check_profile_dir

    out = tmp_path / "prof"
    out.mkdir()
    for name in PROFILE_FILES:
        (out / name).write_text("{}")
    check_profile_dir(out)
