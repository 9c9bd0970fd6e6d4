"""Run the bad-input corpus (tests/test_bad_inputs.py) and write its table of cases and outcomes:
case, class of issue 12, command, exit code, first line of the message, tree unchanged.

    python benchmarks/bad_inputs_table.py [--output benchmarks/results/bad_inputs.md]

Cases whose fix has not landed yet are xfail in the test module and show here as `NO` with what
went wrong; the script exits non-zero only when the test run itself fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "bad_inputs.md"
    )
    args = parser.parse_args()
    out = args.output.resolve()
    env = {**os.environ, "VLA_EDGE_BAD_INPUTS_TABLE": str(out)}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run([*cmd, "tests/test_bad_inputs.py"], cwd=ROOT, env=env, check=False)
    if not out.is_file():
        print(f"no table written (pytest exit {done.returncode})", file=sys.stderr)
        return done.returncode or 1
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    for line in out.read_text().splitlines():
        if "cases behave so" in line:
            print(line)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
