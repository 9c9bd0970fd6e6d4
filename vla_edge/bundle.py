"""The bundle on disk: a directory whose manifest.json is the table of contents.

Writing is atomic: a BundleWriter fills a hidden temporary sibling directory and renames it into
place only when everything is written and hashed, so a failed step leaves no half bundle.
Loading checks every file's sha256 and size and refuses a tampered or truncated file by name,
refuses a manifest edited by hand (its `manifest_sha256` covers everything else in it), and
refuses any path in the manifest that leaves the bundle (`..`, absolute, a symlink out).
Every write of a manifest.json goes through `write_manifest`, which rewrites that hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from vla_edge import __version__
from vla_edge.errors import BundleError, SpecError
from vla_edge.policy.spec import PolicySpec

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest_sha256"
ROLES = ("instruction_encoder", "policy", "monolithic")
KV_CACHE_ROLES = ("vision_encoder", "prefix", "prefill", "decode_step")  # autoregressive VLAs
# split flow-matching VLAs (LeRobot SmolVLA / pi0): vision_encoder.<camera>, prefix, these two
FLOW_ROLES = ("denoise_step", "action_decoder")
CAMERA_ROLE = "vision_encoder."  # + a camera name: that camera's own vision graph


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of the tools that made a bundle (only those already importable)."""
    out = {"vla_edge": __version__}
    for mod in ("torch", "onnx", "onnxruntime", "transformers"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            continue
    return out


def _hash_tree(root: Path) -> dict[str, dict[str, Any]]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            rel = path.relative_to(root).as_posix()
            files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return files


def content_hash(spec: dict, files: dict[str, dict[str, Any]]) -> str:
    """Identity of a bundle: its spec and the hashes of its files (not its validation notes)."""
    canon = json.dumps(
        {"spec": spec, "files": {k: v["sha256"] for k, v in files.items()}}, sort_keys=True
    )
    return hashlib.sha256(canon.encode()).hexdigest()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON, without its own `manifest_sha256` field."""
    body = {k: v for k, v in json.loads(json.dumps(manifest)).items() if k != MANIFEST_HASH}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The one way a manifest.json is (re)written: with a fresh manifest_sha256, atomically.
    Returns the manifest as written."""
    manifest = {k: v for k, v in manifest.items() if k != MANIFEST_HASH}
    manifest[MANIFEST_HASH] = manifest_digest(manifest)
    _write_json_atomic(Path(root) / MANIFEST, manifest)
    return manifest


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)


class BundleWriter:
    """Write a bundle atomically: `with BundleWriter(out) as w: ...; w.finish(manifest)`.

    `force` replaces an existing vla-edge bundle or checkpoint (never anything else, never one
    of `inputs`); see vla_edge.outputs."""

    def __init__(
        self, out: str | Path, force: bool = False, inputs: tuple[str | Path | None, ...] = ()
    ) -> None:
        from vla_edge.outputs import PartialDir, check_output

        self.out = check_output(out, force, inputs)
        self._partial = PartialDir(self.out)
        self.tmp = self._partial.path
        self.finished = False

    def path(self, rel: str) -> Path:
        """Where to write the file `rel` inside the bundle being built."""
        target = self.tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Hash every file, write manifest.json, and move the bundle into place."""
        files = _hash_tree(self.tmp)
        for graph in manifest.get("graphs", []):
            if graph["file"] not in files:
                raise BundleError(f"graph file {graph['file']} was not written into the bundle")
            graph["sha256"] = files[graph["file"]]["sha256"]
            graph["size"] = files[graph["file"]]["size"]
        manifest["files"] = files
        manifest["content_hash"] = content_hash(manifest["spec"], files)
        manifest.update(write_manifest(self.tmp, manifest))
        self._partial.commit()
        self.finished = True
        return self.out

    def abort(self) -> None:
        self._partial.abort()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if not self.finished:
            self.abort()


def sparsity_marker(pattern: str) -> dict[str, str]:
    """The manifest's top-level `sparsity` block, which `vla-edge build` reads (2:4 weights)."""
    return {
        "pattern": pattern,
        "weights": "linear layers of the vision and fusion blocks (see lineage)",
        "build_flag": "--sparsity",
        "tensorrt_flag": "SPARSE_WEIGHTS",
    }


def new_manifest(
    name: str, spec: PolicySpec, step: str, settings: dict, parent: Bundle | None = None
) -> dict[str, Any]:
    """Skeleton manifest; a step fills in graphs, pre/postprocessing and validation."""
    lineage = {"step": step, "settings": settings, "parent": None, "history": []}
    if parent is not None:
        lineage["parent"] = parent.content_hash
        lineage["parent_path"] = str(Path(parent.path).resolve())
        prev = parent.manifest.get("lineage", {})
        lineage["history"] = [
            *prev.get("history", []),
            {
                "step": prev.get("step"),
                "hash": parent.content_hash,
                "settings": prev.get("settings"),
            },
        ]
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "created_by": versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "spec": spec.to_dict(),
        "graphs": [],
        "preprocessing": {},
        "postprocessing": {},
        "lineage": lineage,
        "validation": {},
        "engines": [],
    }


def mark_failed(manifest: dict[str, Any], step: str, reasons: list[str]) -> None:
    """Record in `manifest["failed"]` that `step` (e.g. "quantize", "validate") found this
    bundle out of its budget, with the reasons in words. Each step adds its own entry."""
    entries = [e for e in _failed_entries(manifest) if e.get("step") != step]
    entries.append({"step": step, "reasons": [str(r) for r in reasons] or ["no reason given"]})
    manifest["failed"] = entries


def failure_reasons(manifest: dict[str, Any], engine: str | None = None) -> list[str]:
    """Why the bundle was marked failed, one "step: reason" per line; [] when it was not.
    The one check `Policy.load` (refusing without allow_failed), predict/run/eval, info and
    benchmark read. A `failed` entry may be {"step", "reasons"} or a list of them.
    With `engine` (an engine file, `onnxrt:<providers>` or `torch`: see `engine_validation`),
    also why `vla-edge validate` failed that engine, when it did."""
    reasons = [
        f"{e.get('step', 'unknown step')}: {r}"
        for e in _failed_entries(manifest)
        for r in (e.get("reasons") or ["no reason given"])
    ]
    entry = engine_validation(manifest, engine) if engine is not None else None
    if entry is not None and entry.get("passed") is False:
        reasons += [f"validate ({engine}): {r}" for r in entry.get("reasons") or ["no reason"]]
    return reasons


def _failed_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    failed = manifest.get("failed")
    if not failed:
        return []
    entries = failed if isinstance(failed, list) else [failed]
    return [e if isinstance(e, dict) else {"reasons": [str(e)]} for e in entries]


class Bundle:
    """A bundle on disk, loaded and verified."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        check_paths(path, manifest)
        try:
            self.spec = PolicySpec.from_dict(manifest["spec"])
        except SpecError as exc:
            raise BundleError(f"{path / MANIFEST}: invalid spec: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> Bundle:
        path = Path(path)
        manifest = read_manifest(path)
        bundle = cls(path, manifest)
        if verify:
            bundle.verify()
        return bundle

    def verify(self) -> None:
        """Check every listed file exists with its recorded size and sha256."""
        files = self.manifest.get("files", {})
        for rel, meta in files.items():
            f = self.path / rel
            if not f.is_file():
                raise BundleError(f"bundle {self.path} is missing {rel}: re-export the bundle")
            size = f.stat().st_size
            if size != meta["size"]:
                raise BundleError(
                    f"bundle file {rel} is truncated or altered: {size} bytes, manifest says "
                    f"{meta['size']}; re-export the bundle or restore the file"
                )
            if sha256_file(f) != meta["sha256"]:
                raise BundleError(
                    f"bundle file {rel} does not match its sha256 in manifest.json (tampered or "
                    "corrupted); re-export the bundle or restore the file"
                )
        for graph in self.graphs:
            if graph["file"] not in files:
                raise BundleError(f"graph {graph['file']} is not listed in the manifest's files")

    # --- contents -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.get("name", self.path.name)

    @property
    def failure_reasons(self) -> list[str]:
        """[] unless a step marked this bundle failed (see `failure_reasons(manifest)`)."""
        return failure_reasons(self.manifest)

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    @property
    def graphs(self) -> list[dict[str, Any]]:
        return self.manifest.get("graphs", [])

    @property
    def layout(self) -> str:
        roles = {g["role"] for g in self.graphs}
        if "prefill" in roles:
            return "kv-cache"
        if "denoise_step" in roles:
            return "flow-split"
        return "monolithic" if "monolithic" in roles else "split"

    def graph(self, role: str) -> dict[str, Any]:
        for g in self.graphs:
            if g["role"] == role:
                return g
        raise BundleError(
            f"bundle {self.path} has no {role!r} graph; it has {[g['role'] for g in self.graphs]}"
        )

    def graph_path(self, role: str) -> Path:
        return self.path / self.graph(role)["file"]

    @property
    def tokenizer_dir(self) -> Path | None:
        d = self.path / "tokenizer"
        return d if d.is_dir() else None

    @property
    def source_dir(self) -> Path | None:
        """The PyTorch checkpoint the bundle was exported from, when it was included."""
        d = self.path / "source"
        return d if (d / "config.json").is_file() else None

    @property
    def precision(self) -> str:
        """Precision of the per-frame graph (policy, monolithic, or a decoder's decode step)."""
        for g in self.graphs:
            if g["role"] in ("policy", "monolithic", "decode_step", "prefill", "denoise_step"):
                return g.get("precision", "fp32")
        return self.graphs[0].get("precision", "fp32") if self.graphs else "fp32"

    def size_bytes(self, graphs_only: bool = True) -> int:
        files = self.manifest.get("files", {})
        if graphs_only:
            return sum(g.get("size", 0) for g in self.graphs)
        return sum(m["size"] for m in files.values())

    def update(self, add_files: dict[str, Path] | None = None, **fields: Any) -> None:
        """Add files (e.g. engines/...) and/or replace top-level manifest fields, atomically per
        file; the manifest is rewritten last so a failure leaves the old manifest valid."""
        manifest = json.loads(json.dumps(self.manifest))
        for rel, src in (add_files or {}).items():
            dest = inside(self.path, rel, "an added file")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            manifest["files"][rel] = {"sha256": sha256_file(dest), "size": dest.stat().st_size}
        manifest.update(fields)
        check_paths(self.path, manifest)
        self.manifest = write_manifest(self.path, manifest)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """manifest.json of the bundle at `path`, its shape and hash checked (BundleError)."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"no bundle at {path}: make one with `vla-edge export CKPT -o {path}`")
    if not path.is_dir():
        raise BundleError(f"{path} is a file, not a bundle directory (one holding {MANIFEST})")
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{path} is not a bundle: it has no {MANIFEST}")
    manifest = read_json_object(mpath)
    check_shape(mpath, manifest)
    check_paths(path, manifest)  # a path out of the bundle is named, even in an edited manifest
    check_manifest_hash(mpath, manifest)
    return manifest


def read_json_object(mpath: Path) -> dict[str, Any]:
    """A JSON object from a file; binary, non-UTF-8, invalid JSON or a non-object: BundleError."""
    try:
        text = mpath.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(
            f"{mpath} is not UTF-8 text (byte {exc.start} is {mpath.read_bytes()[exc.start]:#04x}; "
            "binary or corrupted?); a manifest is JSON: re-export the bundle"
        ) from exc
    except OSError as exc:
        raise BundleError(f"{mpath} cannot be read ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{mpath} is not valid JSON ({exc}); re-export the bundle") from exc
    if not isinstance(data, dict):
        raise BundleError(
            f'{mpath} must hold a JSON object ({{"format_version": 1, ...}}), found a JSON '
            f"{_json_type(data)}; re-export the bundle"
        )
    return data


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def check_shape(mpath: Path, manifest: dict[str, Any]) -> None:
    """format_version, the required keys and their types (before the hash, so a hand edit that
    broke the shape is named precisely)."""
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BundleError(
            f"{mpath}: format_version must be an integer (this vla-edge reads {FORMAT_VERSION}), "
            f"found {_json_type(version)} {json.dumps(version)}"
            + (f"; write {version}, without quotes" if str(version).isdigit() else "")
        )
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{mpath} has format_version {version}; this vla-edge reads {FORMAT_VERSION}: use "
            "the vla-edge that wrote it, or re-export the bundle with this one"
        )
    for key in ("spec", "graphs", "files", "content_hash"):
        if key not in manifest:
            raise BundleError(f"{mpath} lacks {key!r}; re-export the bundle")
    for key, want in (("spec", dict), ("graphs", list), ("files", dict), ("content_hash", str)):
        if not isinstance(manifest[key], want):
            raise BundleError(
                f"{mpath}: {key!r} must be a JSON {_json_type(want())}, found "
                f"{_json_type(manifest[key])}; re-export the bundle"
            )
    for i, graph in enumerate(manifest["graphs"]):
        _check_graph_entry(mpath, i, graph)
    for rel, meta in manifest["files"].items():
        if not (isinstance(meta, dict) and isinstance(meta.get("sha256"), str)
                and isinstance(meta.get("size"), int)):  # fmt: skip
            raise BundleError(
                f'{mpath}: files[{rel!r}] must be {{"sha256": ..., "size": ...}}, found '
                f"{json.dumps(meta)[:80]}; re-export the bundle"
            )


def _check_graph_entry(mpath: Path, i: int, graph: Any) -> None:
    known = [*ROLES, *KV_CACHE_ROLES, *FLOW_ROLES, CAMERA_ROLE + "<camera>"]
    if not isinstance(graph, dict):
        raise BundleError(
            f"{mpath}: graphs[{i}] must be a JSON object with 'file' and 'role', found "
            f"{_json_type(graph)} {json.dumps(graph)[:60]}; re-export the bundle"
        )
    role = graph.get("role")
    if not isinstance(graph.get("file"), str) or not graph["file"]:
        raise BundleError(
            f"{mpath}: graphs[{i}] (role {role!r}) has no 'file' naming its .onnx in the bundle, "
            f"found {json.dumps(graph.get('file'))}; re-export the bundle"
        )
    per_camera = (
        isinstance(role, str) and role.startswith(CAMERA_ROLE) and len(role) > len(CAMERA_ROLE)
    )
    if role not in known and not per_camera:
        raise BundleError(
            f"{mpath}: graphs[{i}] ({graph['file']}) has role {json.dumps(role)}; known roles: "
            f"{', '.join(known)}; re-export the bundle"
        )


def check_manifest_hash(mpath: Path, manifest: dict[str, Any]) -> None:
    """A manifest edited after vla-edge wrote it (a widened action limit, say) is refused."""
    recorded = manifest.get(MANIFEST_HASH)
    if recorded is None:
        raise BundleError(
            f"{mpath} has no {MANIFEST_HASH}: it was written by hand or by an older vla-edge "
            "that did not hash its manifest; re-export the bundle"
        )
    if recorded != manifest_digest(manifest):
        raise BundleError(
            f"{mpath} was edited after vla-edge wrote it (its contents no longer match its "
            f"{MANIFEST_HASH}), so the spec, limits and graphs it declares cannot be trusted; "
            "restore manifest.json from a copy or re-export the bundle (vla-edge commands that "
            "change a bundle, such as eval and build, update the hash themselves)"
        )


def inside(root: Path, rel: Any, what: str) -> Path:
    """`root / rel`, refused (BundleError) unless it stays inside the bundle: a relative path
    without `..` that, with symlinks followed, resolves under root."""
    if not isinstance(rel, str) or not rel:
        raise BundleError(f"{root / MANIFEST}: {what} has path {rel!r}; expected a file name")
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or Path(rel).is_absolute() or ".." in parts:
        raise BundleError(
            f"{root / MANIFEST}: {what} {rel!r} points outside the bundle (absolute or '..'); "
            "a bundle only refers to its own files: re-export the bundle"
        )
    full = root / rel
    real, top = full.resolve(), root.resolve()
    if real != top and top not in real.parents:
        raise BundleError(
            f"{root / MANIFEST}: {what} {rel!r} is a symbolic link to {real}, outside the "
            "bundle; a bundle only refers to its own files: replace the link by the file"
        )
    return full


def check_paths(root: Path, manifest: dict[str, Any]) -> None:
    """Every path the manifest names (files, and any `file` entry anywhere) stays inside."""
    for rel in manifest.get("files") or {}:
        inside(root, rel, "listed file")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "file":
                    inside(root, value, where)
                elif key != "files":
                    walk(value, f"{where}.{key}" if where else key)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")

    walk(manifest, "")
    for fixed in ("source", "tokenizer"):  # read by name, not through the manifest
        if (root / fixed).exists():
            inside(root, fixed, "directory")


def engine_validation(manifest: dict[str, Any], key: str) -> dict[str, Any] | None:
    """What `vla-edge validate` recorded for `key` (an engine file such as
    engines/orin-agx-64gb-fp16.plan, `onnxrt:cpu`, `torch`), or None when it was never validated
    or the engine was rebuilt since (its file's sha256 is not the one validated)."""
    entry = ((manifest.get("validation") or {}).get("engines") or {}).get(key)
    if not entry:
        return None
    sha = entry.get("engine_sha256")
    if sha is not None and (manifest.get("files", {}).get(key) or {}).get("sha256") != sha:
        return None
    return entry
