"""Instructions per operation, counted by valgrind (callgrind): a measure no load can skew.

On a shared machine even CPU time wanders by a few percent between runs; the number of
instructions a process executes does not. This counts them for one scenario, per variant and
mode, by running the operation N and N + DELTA times after the scenario's own warm-up and
dividing the difference by DELTA, so start-up and import costs cancel out. It is slow (about
half a minute per count), so it is a tool for judging one change, not part of ``run.py``.

    python bench/instructions.py flask_get
    python bench/instructions.py redis_get --variants bare,spanwise --modes sampled

Needs ``valgrind`` on PATH. Instructions are not time (a cache miss costs more than an add),
but for the same Python code on the same interpreter the two move together.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_RUN = """
import gc
import sys
sys.path.insert(0, {bench!r})
import _child
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
sampler = _child.setup_sdk()
scenario = _child.load({path!r})
op = scenario.make({variant!r})
sampler.delegate = ALWAYS_ON if {mode!r} == "sampled" else ALWAYS_OFF
# Everything made so far out of the collector's sight: a full collection then costs the same
# for every variant, instead of walking however big each variant's start-up left the heap.
gc.collect()
gc.freeze()
for _ in range({count}):
    op()
teardown = getattr(scenario, "teardown", None)
if teardown is not None:
    teardown()
"""


# Counts that repeat: a fixed hash seed (with a random one, dict and set layouts change between
# processes and the same variant's count moves by several thousand instructions), and a span
# processor that exports when its batch is full rather than every few seconds of wall time
# (under valgrind a run takes minutes, and a slower variant would pay for more wake-ups).
_ENV = {**os.environ, "PYTHONHASHSEED": "0", "OTEL_BSP_SCHEDULE_DELAY": "3600000"}


def count(path: Path, variant: str, mode: str, n: int) -> int:
    """Instructions executed by a process that runs the operation *n* times."""
    code = _RUN.format(bench=str(HERE), path=str(path), variant=variant, mode=mode, count=n)
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        env=_ENV,
        timeout=900,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{path.stem} {variant} {mode}: {tail}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", help="file name in bench/scenarios, without .py")
    parser.add_argument("--variants", default="bare,spanwise")
    parser.add_argument("--modes", default="sampled,unsampled")
    parser.add_argument("--base", type=int, default=100, help="operations in the first run")
    parser.add_argument("--delta", type=int, default=1000, help="extra operations in the second")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    path = HERE / "scenarios" / f"{args.scenario}.py"
    results: dict[tuple[str, str], int] = {}
    for mode in args.modes.split(","):
        for variant in args.variants.split(","):
            low = count(path, variant, mode, args.base)
            high = count(path, variant, mode, args.base + args.delta)
            results[variant, mode] = per_op = (high - low) // args.delta
            bare = results.get(("bare", mode))
            extra = (
                f"  overhead {per_op - bare:>9,}" if bare is not None and variant != "bare" else ""
            )
            print(f"{args.scenario} {mode:9} {variant:8} {per_op:>9,} instructions/op{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
