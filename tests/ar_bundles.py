"""Session fixture shared by the autoregressive tests: tiny KV-cache checkpoints and bundles."""

import pytest

from vla_edge.export import export_checkpoint
from vla_edge.policy.autoregressive.presets import create_ar_checkpoint
from vla_edge.policy.reference import default_spec


@pytest.fixture(scope="session")
def ar_bundle(artifacts):
    """Factory: tiny autoregressive / parallel (checkpoint, bundle), chunk 2 (cached)."""

    def make(head="ar", decoder="llama"):
        ck, out = artifacts / f"ck-{head}-{decoder}", artifacts / f"bundle-{head}-{decoder}"
        if not out.exists():
            spec = default_spec("tiny", "bins", chunk=2)
            create_ar_checkpoint(ck, "tiny", head, spec, decoder, seed=1)
            export_checkpoint(ck, out)
        return ck, out

    return make
