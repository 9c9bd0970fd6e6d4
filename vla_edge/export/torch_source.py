"""A PyTorch source for bundles of generic modules: each traced graph module saved as a
torch.export program (`source/<role>.pt2`), which `--backend torch` loads without the user's
class. Saved before ONNX tracing runs on the copy, and checked against it on sample inputs."""

from __future__ import annotations

import numpy as np

from vla_edge.export.onnx_export import batch_shapes


def save_programs(graphs, feeds: dict[str, np.ndarray], writer) -> dict:
    """Export and save each graph; the manifest's `torch_source` block. A graph torch.export
    cannot capture leaves the bundle without a torch source, with the reason recorded."""
    import torch

    example = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()}
    files, errors = {}, {}
    for graph in graphs:
        args = tuple(example[n] for n in graph.input_names)
        with torch.no_grad():
            want = graph.module(*args)
        try:
            program = torch.export.export(
                graph.module,
                args,
                dynamic_shapes=batch_shapes(graph.module, len(args)),
                strict=False,
            )
            with torch.no_grad():
                got = program.module()(*args)
        except Exception as exc:  # torch.export raises many kinds
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return {"format": None, "reason": f"torch.export of the {graph.role} graph: {reason}"}
        errors[graph.role] = float((got - want).abs().max()) if want.numel() else 0.0
        rel = f"source/{graph.role}.pt2"
        torch.export.save(program, str(writer.path(rel)))
        files[graph.role] = rel
        example[graph.output_names[0]] = want
    return {"format": "torch.export", "files": files, "max_abs_error": errors}
