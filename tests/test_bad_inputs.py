"""The bad-input corpus (issue 12): every class of bad input the issue names, run through the real
CLI (typer's CliRunner on vla-edge's own app). Each case asserts

- a non-zero exit, and not 70 (the "unexpected error" path of a bug);
- no Python traceback and no exception escaping the command;
- a message that names the input (the option, file or value at fault);
- an unchanged tree on disk: the sha256 of every file (and the list of every directory, hidden
  ones included) under the case's directory is the same before and after.

Cases whose fix belongs to another part of issue 12 are marked xfail(strict) until it lands.
`python benchmarks/bad_inputs_table.py` (or VLA_EDGE_BAD_INPUTS_TABLE=FILE pytest ...) writes the
table of cases and outcomes (benchmarks/results/bad_inputs.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vla_edge.cli.common import UNEXPECTED_EXIT
from vla_edge.cli.main import app

TABLE_ENV = "VLA_EDGE_BAD_INPUTS_TABLE"
CLASSES = {
    1: "data loss with --force",
    2: "broken models",
    3: "run that sends nothing",
    4: "failed quantizations",
    5: "bundle integrity",
    6: "missing inputs",
    7: "tracebacks",
    8: "unclear messages",
    9: "leftovers",
}
STATE = ",".join(["0.1"] * 8)  # the tiny policies take an 8-value state


@dataclass(frozen=True)
class Case:
    id: str
    klass: int  # the class (CLASSES)
    command: str  # vla-edge arguments, shell syntax, relative to the case directory
    names: tuple[str, ...]  # what the message must name (case-insensitive)
    setup: Callable[[Path, dict[str, Path]], None]  # makes the case's inputs in its directory
    fixed_by: str | None = None  # another helper's part of issue 12, not landed yet


# --- inputs --------------------------------------------------------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _ck(d: Path, fx: dict[str, Path], name: str = "ck", head: str = "bins") -> Path:
    return _copy(fx[f"ck-{head}"], d / name)


def _b(d: Path, fx: dict[str, Path], name: str = "b") -> Path:
    return _copy(fx["bundle"], d / name)


def _manifest(bundle: Path, edit: Callable[[dict], object], rehash: bool = False) -> None:
    """Edit manifest.json by hand, or (rehash) as a tool would that rewrites its hash too."""
    from vla_edge.bundle import write_manifest

    path = bundle / "manifest.json"
    m = json.loads(path.read_text())
    out = edit(m)
    if rehash:
        write_manifest(bundle, m if out is None else out)
    else:
        path.write_text(json.dumps(m if out is None else out, indent=2))


def _frame(d: Path, name: str = "f.npy", size: int = 64) -> Path:
    np.save(d / name, np.full((size, size, 3), 127, np.uint8))
    return d / name


def _tensors(ck: Path, edit: Callable[[dict], dict]) -> None:
    from safetensors.numpy import load_file, save_file

    path = ck / "model.safetensors"
    save_file(edit(load_file(str(path))), str(path))


def nothing(d, fx):
    pass


def ck(d, fx):
    _ck(d, fx)


def b(d, fx):
    _b(d, fx)


def b_frame(d, fx):
    _b(d, fx)
    _frame(d)


def b_user_summary(d, fx):
    _b(d, fx)
    (d / "u").mkdir()
    (d / "u" / "NOTES.txt").write_text("my notes\n")
    (d / "u" / "summary.json").write_text('{"mine": true}\n')


def b_user_report(d, fx):
    _b(d, fx)
    (d / "u").mkdir()
    (d / "u" / "NOTES.txt").write_text("my notes\n")
    (d / "u" / "report.md").write_text("# my report\n")


def force_onto_user_dir(d, fx):
    _ck(d, fx)
    (d / "u" / "data").mkdir(parents=True)
    (d / "u" / "NOTES.txt").write_text("my notes\n")


def junk_npz(d, fx):
    _b(d, fx)
    (d / "junk.npz").write_text("not an archive\n")


def just_notes(d, fx):
    (d / "notes.txt").write_text("not a directory\n")


def user_dir(d, fx):
    (d / "u" / "data").mkdir(parents=True)
    (d / "u" / "NOTES.txt").write_text("my notes\n")


def ck_with_readme(d, fx):
    (_ck(d, fx) / "README.md").write_text("my checkpoint\n")


def nan_weights(d, fx):
    _tensors(_ck(d, fx, "ck_nan"), lambda t: {k: np.full_like(v, np.nan) for k, v in t.items()})


def missing_tensors(d, fx):
    _tensors(_ck(d, fx, "ck_part"), lambda t: dict(list(t.items())[: len(t) * 2 // 3]))


def nan_predict(d, fx):
    _copy(fx["nan-bundle"], d / "nanb")
    _frame(d, size=32)


def parity_fails(d, fx):
    _ck(d, fx, "ck", head="continuous")


def graph_outside(d, fx):
    bundle = _b(d, fx)
    shutil.copyfile(bundle / "policy.onnx", d / "outside.onnx")

    def edit(m):
        for g in m["graphs"]:
            if g.get("role") == "policy":
                g["file"] = "../outside.onnx"

    _manifest(bundle, edit)


def widened_limits(d, fx):
    def edit(m):
        m["spec"]["action"]["high"] = [v * 10 for v in m["spec"]["action"]["high"]]

    _manifest(_b(d, fx), edit)


def flipped_byte(d, fx):
    path = _b(d, fx) / "policy.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncated_graph(d, fx):
    path = _b(d, fx) / "policy.onnx"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def manifest_list(d, fx):
    _manifest(_b(d, fx), lambda m: [m])


def manifest_binary(d, fx):
    (_b(d, fx) / "manifest.json").write_bytes(bytes(range(256)) * 4)


def graph_without_file(d, fx):
    _manifest(_b(d, fx), lambda m: [g.pop("file") for g in m["graphs"]] and None)


def manifest_graphs_string(d, fx):
    _manifest(_b(d, fx), lambda m: m.update(graphs="policy.onnx"))


def unknown_role(d, fx):
    def edit(m):
        m["graphs"][0]["role"] = "decoder_of_dreams"

    _manifest(_b(d, fx), edit)


def format_version_string(d, fx):
    _manifest(_b(d, fx), lambda m: m.update(format_version=str(m["format_version"])))


def _one_more_state_value(m):
    spec = m["spec"]
    spec["state_dim"] += 1
    for k, v in spec["normalization"].items():
        if isinstance(v, list) and len(v) == spec["state_dim"] - 1:
            spec["normalization"][k] = [*v, v[-1]]


def state_dim_edited(d, fx):
    _manifest(_b(d, fx), _one_more_state_value)


def state_dim_rehashed(d, fx):
    _manifest(_b(d, fx), _one_more_state_value, rehash=True)


def invalid_config(d, fx):
    path = _ck(d, fx) / "config.json"
    path.write_text(path.read_text()[:-20])


def corrupt_png(d, fx):
    _b(d, fx)
    (d / "calib").mkdir()
    for i in range(4):
        _frame(d / "calib", f"{i}.npy")
    (d / "calib" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (d / "calib" / "instructions.txt").write_text("pick up the block\n")


def failed_quantization(d, fx):
    """A bundle quantize kept with --keep-failed (it missed an impossible budget)."""
    _b(d, fx)
    cmd = "quantize b --precision int8-dynamic -o qf --keep-failed --budget bins=1.0,range=1e-9"
    cwd = Path.cwd()
    os.chdir(d)
    try:
        res = CliRunner().invoke(app, shlex.split(cmd))
    finally:
        os.chdir(cwd)
    assert (d / "qf" / "manifest.json").is_file(), res.output


def with_notes(d, fx):
    _b(d, fx)
    (d / "notes.txt").write_text("not a directory\n")


def junk_npy(d, fx):
    _b(d, fx)
    (d / "junk.npy").write_text("not an array\n")


RUN = "run b --camera '{camera}' --actuator null --cycles 2 --instruction go --quiet"
NON_UTF8 = b"pick \xff\xfe up".decode("utf-8", "surrogateescape")  # how Python reads such argv

CASES = [
    # 1 data loss with --force
    Case("force-user-dir", 1, "export ck -o u --force", ("u", "NOTES.txt"), force_onto_user_dir),
    Case("force-onto-input", 1, "export ck -o ck --force", ("ck", "input"), ck_with_readme),
    Case("force-quantize-parent", 1, "quantize b --precision fp16 -o b --force", ("b", "input"), b),
    # 2 broken models
    Case("nan-weights", 2, "export ck_nan -o out", ("ck_nan", "nan"), nan_weights),
    Case(
        "missing-tensors",
        2,
        "export ck_part -o out",
        ("ck_part", "missing"),
        missing_tensors,
    ),
    Case(
        "predict-nan-actions",
        2,
        "predict nanb --image left=f.npy --instruction x --state 0,0,-1000",
        ("non-finite",),
        nan_predict,
    ),
    # 3 run that sends nothing
    Case(
        "run-too-slow",
        3,
        "run nanb --camera left=pattern:32x32@30 --actuator null --rate 10000 --cycles 20 "
        "--instruction x --state 0,0,0 --quiet",
        ("--rate",),
        nan_predict,
    ),
    # 4 failed quantizations
    Case(
        "budget-empty",
        4,
        "quantize b --precision int8-dynamic -o out --budget ''",
        ("--budget",),
        b,
    ),
    Case(
        "budget-missed",
        4,
        "quantize b --precision int8-dynamic -o out --budget bins=1.0,range=1e-9",
        ("budget",),
        b,
    ),
    Case(
        "failed-bundle-predict",
        4,
        f"predict qf --example --state {STATE}",
        ("qf", "--allow-failed"),
        failed_quantization,
    ),
    # 5 bundle integrity
    Case("graph-outside-bundle", 5, "info b", ("../outside.onnx",), graph_outside),
    Case(
        "widened-limits",
        5,
        f"predict b --example --state {STATE}",
        ("manifest",),
        widened_limits,
    ),
    Case("check-flipped-byte", 5, "check b", ("policy.onnx",), flipped_byte),
    Case("check-truncated-graph", 5, "check b", ("policy.onnx",), truncated_graph),
    # 6 missing inputs
    Case(
        "no-state",
        6,
        "predict b --image f.npy --instruction 'pick up the block'",
        ("--state",),
        b_frame,
    ),
    Case(
        "empty-instruction",
        6,
        f"predict b --image f.npy --instruction '' --state {STATE}",
        ("instruction",),
        b_frame,
    ),
    Case(
        "image-twice",
        6,
        f"predict b --image front=f.npy --image front=f.npy --instruction go --state {STATE}",
        ("front",),
        b_frame,
    ),
    # 7 tracebacks
    Case("min-bins-1.5", 7, "export ck -o out --min-bins 1.5", ("--min-bins", "1.5"), ck),
    Case("atol-negative", 7, "export ck -o out --atol -1", ("--atol", "-1"), ck),
    Case("output-empty", 7, "export ck -o ''", ("--output",), ck),
    Case(
        "instruction-not-utf8",
        7,
        "predict b --example --state " + STATE + " --instruction " + shlex.quote(NON_UTF8),
        ("--instruction", "UTF-8"),
        b,
    ),
    Case(
        "camera-fps-abc",
        7,
        "run b --camera 'pattern?fps=abc' --actuator null --cycles 2 --instruction go --quiet",
        ("fps", "abc"),
        b,
    ),
    Case(
        "udp-port-99999",
        7,
        "run b --camera pattern:64x64 --actuator udp://127.0.0.1:99999 --cycles 2 "
        "--instruction go --quiet",
        ("99999",),
        b,
    ),
    Case("csi-not-a-number", 7, RUN.format(camera="csi://abc"), ("csi://abc",), b),
    Case("pattern-0x0", 7, RUN.format(camera="pattern:0x0"), ("pattern:0x0",), b),
    Case(
        "profile-is-a-file",
        7,
        RUN.format(camera="pattern:64x64") + " --profile notes.txt",
        ("--profile", "notes.txt"),
        with_notes,
    ),
    Case(
        "profile-into-user-dir",
        1,
        RUN.format(camera="pattern:64x64") + " --profile u",
        ("--profile", "NOTES.txt", "summary.json"),
        b_user_summary,
    ),
    Case(
        "profile-inside-bundle",
        1,
        RUN.format(camera="pattern:64x64") + " --profile b/prof",
        ("--profile", "inside the input"),
        b,
    ),
    Case(
        "report-into-user-dir",
        1,
        "benchmark b --iterations 2 --warmup 0 --rounds 1 --report u",
        ("--report", "NOTES.txt", "report.md"),
        b_user_report,
    ),
    Case(
        "image-npy-not-an-array",
        7,
        f"predict b --image junk.npy --instruction go --state {STATE}",
        ("junk.npy",),
        junk_npy,
    ),
    Case("image-size-30", 7, "model create -o m --preset tiny --image-size 30", ("30",), nothing),
    # 8 (cont.) a library setting's message names the option that set it
    Case(
        "cycles-negative", 8, RUN.format(camera="pattern:64x64") + " --cycles -1", ("--cycles",), b
    ),
    Case("encoder-unknown", 8, "quantize b -o out --encoder nope", ("--encoder", "nope"), b),
    Case("head-unknown", 8, "model create -o m --preset tiny --head nope", ("--head",), nothing),
    Case(
        "parity-samples-huge",
        7,
        "export ck -o out --parity-samples 1000000000",
        ("memory", "fewer samples"),
        ck,
    ),
    Case(
        "demos-into-a-file",
        1,
        "sim demos --suite mt3-smoke -o notes.txt",
        ("notes.txt",),
        just_notes,
    ),
    Case(
        "demos-into-user-dir", 1, "sim demos --suite mt3-smoke -o u", ("u", "NOTES.txt"), user_dir
    ),
    Case(
        "image-empty-path",
        8,
        f"predict b --image front= --instruction go --state {STATE}",
        ("--image",),
        b,
    ),
    Case(
        "benchmark-unknown-precision", 3, "benchmark b --precision nope", ("--precision", "nope"), b
    ),
    Case(
        "calib-npz-junk",
        8,
        "quantize b --precision int8 -o out --calib junk.npz",
        ("junk.npz", "np.savez"),
        junk_npz,
    ),
    Case("demo-unknown-suite", 7, "demo --suite nope", ("nope", "known suites"), nothing),
    Case(
        "calib-corrupt-png",
        7,
        "quantize b --precision int8 -o out --calib calib",
        ("0.png",),
        corrupt_png,
    ),
    Case("manifest-json-list", 7, "info b", ("manifest.json",), manifest_list),
    Case("manifest-binary", 7, "info b", ("manifest.json",), manifest_binary),
    Case("graph-without-file", 7, "info b", ("file",), graph_without_file),
    Case("manifest-graphs-string", 7, "info b", ("graphs",), manifest_graphs_string),
    Case("unknown-graph-role", 7, "info b", ("decoder_of_dreams",), unknown_role),
    # 8 unclear messages
    Case("config-invalid-json", 8, "export ck -o out", ("config.json", "line"), invalid_config),
    Case(
        "state-dim-rehashed",
        8,
        "predict b --example --state " + STATE + ",0.1",
        ("state_dim", "manifest.json"),
        state_dim_rehashed,
    ),
    Case(
        "state-dim-edited",
        8,
        "predict b --example --state " + STATE + ",0.1",
        ("manifest",),
        state_dim_edited,
    ),
    Case(
        "format-version-string",
        8,
        "info b",
        ("format_version", "integer"),
        format_version_string,
    ),
    # 9 leftovers: a failed export leaves nothing behind (no .out.partial-* either)
    Case(
        "parity-fails-no-partial",
        9,
        "export ck -o out --atol 1e-9",
        ("parity failed", "--atol"),
        parity_fails,
    ),
]


# --- running a case ------------------------------------------------------------------------------
def tree(root: Path) -> dict[str, str]:
    """sha256 of every file and a marker for every directory and link under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def plain(output: str) -> str:
    """Output without rich's box drawing and line wrapping, for matching phrases."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def first_line(output: str) -> str:
    """The message's first line: `error: ...`, or the text of typer's usage-error box."""
    for line in output.splitlines():
        if line.startswith("error:"):
            return line
    text = plain(output)
    return text[text.find("Error") + 6 :] if "Error" in text else text


@dataclass
class Outcome:
    exit_code: int
    output: str
    escaped: BaseException | None
    unchanged: bool
    changes: list[str]


def run_case(case: Case, d: Path, fx: dict[str, Path]) -> Outcome:
    d.mkdir(parents=True)
    case.setup(d, fx)
    before = tree(d)
    cwd = Path.cwd()
    os.chdir(d)
    try:
        res = CliRunner().invoke(app, shlex.split(case.command), env={"COLUMNS": "200"})
    finally:
        os.chdir(cwd)
    after = tree(d)
    changes = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    escaped = res.exception if not isinstance(res.exception, SystemExit) else None
    return Outcome(res.exit_code, res.output, escaped, not changes, changes)


def problems(case: Case, out: Outcome) -> list[str]:
    found = []
    if out.exit_code == 0:
        found.append("exit 0")
    if out.exit_code == UNEXPECTED_EXIT:
        found.append(f"exit {UNEXPECTED_EXIT} (the 'unexpected error' path of a bug)")
    if out.escaped is not None or "Traceback" in out.output:
        found.append(f"traceback / escaped {type(out.escaped).__name__}")
    text = plain(out.output).lower()
    missing = [n for n in case.names if n.lower() not in text]
    if missing:
        found.append(f"message does not name {missing}")
    if not out.unchanged:
        found.append(f"tree changed: {out.changes[:5]}")
    return found


# --- fixtures and the table ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fx(tiny_checkpoint, tiny_bundle, tmp_path_factory) -> dict[str, Path]:
    return {
        "ck-bins": tiny_checkpoint("bins"),
        "ck-continuous": tiny_checkpoint("continuous"),
        "bundle": tiny_bundle("bins"),
        "nan-bundle": nan_bundle(tmp_path_factory.mktemp("bad-inputs") / "nan"),
    }


def nan_bundle(out: Path) -> Path:
    """A real export of a module whose actions are finite on its parity samples but NaN for a
    state below -100 (sqrt of a negative number): a broken model that only its inputs reveal."""
    import torch

    from vla_edge.export import ExportConfig, export_module
    from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec

    class NanBelow(torch.nn.Module):
        """Also slow on purpose (12 matmuls of 256 x 256: ~0.4 GFLOP, milliseconds on any CPU),
        so that `run` at 10 kHz is refused by its warm-up check whatever the machine's load."""

        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.tensor(0.1))
            self.mix = torch.nn.Parameter(torch.eye(256) / 16)

        def forward(self, image_left, state):
            frame = image_left.float().mean(dim=(1, 2, 3))[:, None] * 0
            work = image_left.float()[:, :, :8, 0].reshape(-1, 256, 1).expand(-1, 256, 256)
            for _ in range(12):
                work = work @ self.mix
            busy = work.mean(dim=(1, 2))[:, None] * 0
            poison = torch.sqrt(state[:, 2:3] + 100.0) * 0  # NaN below -100
            return (self.gain * state + frame + busy + poison)[:, None]

    spec = PolicySpec(
        cameras=[CameraSpec("left", 32, 32)],
        action=ActionSpace(["x", "y", "z"], ["m"] * 3, [-1.0] * 3, [1.0] * 3),
        state_dim=3,
    )
    export_module(NanBelow(), spec, out, ExportConfig(monolithic=True, include_source=False))
    return out


ROWS: dict[str, dict] = {}


@pytest.fixture(scope="module", autouse=True)
def _table():
    yield
    path = os.environ.get(TABLE_ENV)
    if path and ROWS:
        write_table(Path(path), [ROWS[c.id] for c in CASES + LIBRARY_CASES if c.id in ROWS])


def write_table(path: Path, rows: list[dict]) -> None:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Bad-input corpus (tests/test_bad_inputs.py)",
        "",
        "Written by `python benchmarks/bad_inputs_table.py`. Every case runs the real CLI and must",
        "exit non-zero (not 70, the 'unexpected error' path), print no traceback, name the input,",
        "and leave every file under its directory unchanged (sha256 before and after).",
        "",
        f"{sum(r['ok'] for r in rows)} of {len(rows)} cases behave so "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; classes: "
        + ", ".join(f"{k} {v} {sum(r['klass'] == k for r in rows)}" for k, v in CLASSES.items())
        + ").",
        "",
        "| case | class | command | exit | first line of the message | tree unchanged | ok |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['klass']} {CLASSES[r['klass']]} | `{cell(r['command'])}` | "
            f"{r['exit']} | {cell(r['message'][:200])} | {'yes' if r['unchanged'] else 'NO'} | "
            f"{'yes' if r['ok'] else 'NO: ' + cell('; '.join(r['problems']))} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _param(case: Case):
    marks = []
    if case.fixed_by:  # removed from the case when that part lands on main
        marks.append(pytest.mark.xfail(strict=True, reason=f"fixed by {case.fixed_by}"))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case: Case, fx, tmp_path):
    out = run_case(case, tmp_path / case.id, fx)
    found = problems(case, out)
    ROWS[case.id] = {
        "id": case.id,
        "klass": case.klass,
        "command": "vla-edge " + case.command.replace(NON_UTF8, "$'pick \\xff\\xfe up'"),
        "exit": out.exit_code,
        "message": first_line(out.output),
        "unchanged": out.unchanged,
        "ok": not found,
        "problems": found,
    }
    assert not found, f"{case.command}: {found}\n{out.output}"


# --- the library's own entry points --------------------------------------------------------------
@dataclass(frozen=True)
class LibraryCase:
    id: str
    klass: int
    command: str
    names: tuple[str, ...]
    call: Callable[[dict[str, Path]], object]
    fixed_by: str | None = None


def _predict_batch_unbatched(fx):
    from vla_edge.policy.policy import Policy

    with Policy.load(fx["bundle"]) as policy:
        frame = np.zeros((64, 64, 3), np.uint8)
        return policy.predict_batch({"front": frame}, "go", np.zeros((1, 8), np.float32))


def _load_none(fx):
    from vla_edge.policy.policy import Policy

    return Policy.load(None)


def _predict_state_strings(fx):
    from vla_edge.policy.policy import Policy

    with Policy.load(fx["bundle"]) as policy:
        return policy.predict({"front": np.zeros((64, 64, 3), np.uint8)}, "go", ["a"] * 8)


def _predict_batch_empty(fx):
    from vla_edge.policy.policy import Policy

    with Policy.load(fx["bundle"]) as policy:
        frames = {"front": np.zeros((0, 64, 64, 3), np.uint8)}
        return policy.predict_batch(frames, "go", np.zeros((0, 8), np.float32))


LIBRARY_CASES = [
    LibraryCase(
        "predict-batch-unbatched",
        8,
        "Policy.predict_batch({'front': [64, 64, 3]}, ...)",
        ("[B, 64, 64, 3]", "[64, 64, 3]", "add a batch axis"),
        _predict_batch_unbatched,
    ),
    LibraryCase(
        "predict-state-strings",
        7,
        "Policy.predict(frames, 'go', ['a'] * 8)",
        ("state must be 8 numbers",),
        _predict_state_strings,
    ),
    LibraryCase(
        "predict-batch-empty",
        7,
        "Policy.predict_batch({'front': [0, 64, 64, 3]}, ...)",
        ("batch of 0 frames",),
        _predict_batch_empty,
    ),
    LibraryCase("policy-load-none", 7, "Policy.load(None)", ("Policy.load",), _load_none),
]


@pytest.mark.parametrize("case", [_param(c) for c in LIBRARY_CASES])
def test_library_bad_input(case: LibraryCase, fx):
    from vla_edge.errors import VlaEdgeError

    try:
        case.call(fx)
    except (VlaEdgeError, TypeError) as exc:
        message, escaped = f"{type(exc).__name__}: {exc}", None
    except Exception as exc:  # noqa: BLE001 - what the corpus reports
        message, escaped = f"{type(exc).__name__}: {exc}", exc
    else:
        message, escaped = "no error", None
    found = [] if message != "no error" else ["no error raised"]
    if escaped is not None:
        found.append(f"{type(escaped).__name__} is not a VlaEdgeError or TypeError")
    found += [f"message does not name {n!r}" for n in case.names if n not in message]
    ROWS[case.id] = {
        "id": case.id,
        "klass": case.klass,
        "command": case.command,
        "exit": "raises" if message != "no error" else "returns",
        "message": message,
        "unchanged": True,
        "ok": not found,
        "problems": found,
    }
    assert not found, f"{case.command}: {found}: {message}"
