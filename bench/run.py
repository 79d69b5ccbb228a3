"""Spanwise benchmark runner: bare vs opentelemetry-python-contrib vs Spanwise, in one run.

Each scenario in bench/scenarios runs in its own fresh process per variant (bare, contrib,
spanwise, and handmade: the same telemetry written by hand with the public OpenTelemetry API,
see bench/_handmade.py), interleaved round by round (and in a rotated order each round) so
drift in the machine hits every variant alike. Each process measures the operation sampled
(ALWAYS_ON) and unsampled (ALWAYS_OFF), alternating batches, in CPU time of the measuring
thread (noise from other processes on a shared machine is not counted); a variant's figure is
the median of its rounds. The floor, one bare SDK span plus one histogram record, is measured
in the same run.

    python bench/run.py            # full: 3 rounds
    python bench/run.py --quick    # under a minute
    python bench/run.py -k redis   # scenarios whose name contains "redis"

Writes bench/results.json and prints a Markdown table. Overheads are per operation, in
microseconds, over the bare variant; ratio_vs_contrib = spanwise overhead / contrib overhead;
ratio_vs_handmade = spanwise overhead / handmade overhead (below 1: Spanwise costs less than
recording the same telemetry by hand); ratio_vs_floor = spanwise overhead / floor.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VARIANTS = ("bare", "contrib", "spanwise", "handmade")
MODES = ("sampled", "unsampled")


def scenario_files(pattern: str | None) -> list[Path]:
    files = sorted(p for p in (HERE / "scenarios").glob("*.py") if not p.name.startswith("_"))
    floor = HERE / "scenarios" / "floor.py"
    chosen = [p for p in files if p != floor and (pattern is None or pattern in p.stem)]
    return [floor, *chosen]


def has_handmade(path: Path) -> bool:
    """Whether the scenario writes its telemetry by hand too (``HANDMADE = True``)."""
    return any(line.replace(" ", "") == "HANDMADE=True" for line in path.read_text().splitlines())


def contrib_module(path: Path) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith("CONTRIB"):
            value = line.split("=", 1)[1].strip()
            return None if value == "None" else value.strip("\"'")
    return None


def start_redis() -> tuple[subprocess.Popen[bytes] | None, int | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    sys.path.insert(0, str(HERE.parent / "packages" / "core" / "src"))
    from spanwise.core.testing import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return proc, port


def run_child(
    path: Path, variant: str, target: float, repeats: int, env: dict[str, str]
) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "_child.py"), str(path), variant, str(target), str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"variant": variant, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def summarise(
    samples: dict[str, list[dict[str, Any]]], floor: dict[str, float | None]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for mode in MODES:
        per_variant: dict[str, Any] = {}
        for variant in VARIANTS:
            values = [s[mode] for s in samples[variant] if mode in s]
            errors = [s["error"] for s in samples[variant] if "error" in s]
            per_variant[variant] = {
                "us_per_op": round(statistics.median(values), 3) if values else None,
                "error": errors[0] if errors and not values else None,
            }
        bare = per_variant["bare"]["us_per_op"]
        for variant in ("contrib", "spanwise", "handmade"):
            value = per_variant[variant]["us_per_op"]
            per_variant[variant]["overhead_us"] = (
                round(value - bare, 3) if value is not None and bare is not None else None
            )
        sw = per_variant["spanwise"]["overhead_us"]
        co = per_variant["contrib"]["overhead_us"]
        hm = per_variant["handmade"]["overhead_us"]
        per_variant["ratio_vs_contrib"] = round(sw / co, 3) if sw is not None and co else None
        per_variant["ratio_vs_handmade"] = round(sw / hm, 3) if sw is not None and hm else None
        fl = floor.get(mode)
        per_variant["ratio_vs_floor"] = round(sw / fl, 3) if sw is not None and fl else None
        result[mode] = per_variant
    return result


def table(results: dict[str, Any], floor: dict[str, float | None]) -> str:
    def fmt(v: Any) -> str:
        return "—" if v is None else f"{v:.2f}"

    rows = [
        f"Floor (one SDK span + one histogram record): sampled {fmt(floor['sampled'])} µs, "
        f"unsampled {fmt(floor['unsampled'])} µs",
        "",
        "| scenario | mode | bare µs | contrib overhead µs | spanwise overhead µs "
        "| handmade overhead µs | spanwise/contrib | spanwise/handmade | spanwise/floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in results.items():
        for mode in MODES:
            r = res[mode]
            contrib = fmt(r["contrib"]["overhead_us"]) if r["contrib"]["error"] is None else "n/a"
            handmade = (
                fmt(r["handmade"]["overhead_us"]) if r["handmade"]["error"] is None else "n/a"
            )
            rows.append(
                f"| {name} | {mode} | {fmt(r['bare']['us_per_op'])} | {contrib} | "
                f"{fmt(r['spanwise']['overhead_us'])} | {handmade} | "
                f"{fmt(r['ratio_vs_contrib'])} | {fmt(r['ratio_vs_handmade'])} | "
                f"{fmt(r['ratio_vs_floor'])} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="one round, short batches (< 1 minute)"
    )
    parser.add_argument("-k", dest="pattern", help="only scenarios whose file name contains this")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=str(HERE / "results.json"))
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    target, repeats = (0.03, 3) if args.quick else (0.2, 5)

    env = dict(os.environ)
    env.setdefault("OTEL_PYTHON_LOG_LEVEL", "error")
    redis_proc, redis_port = start_redis()
    if redis_port is not None:
        env["SPANWISE_BENCH_REDIS_PORT"] = str(redis_port)
    files = scenario_files(args.pattern)
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        p.stem: {v: [] for v in VARIANTS} for p in files
    }
    started = time.monotonic()
    try:
        for round_no in range(rounds):
            for path in files:
                shift = round_no % len(VARIANTS)
                variants = (
                    ("bare",) if path.stem == "floor" else VARIANTS[shift:] + VARIANTS[:shift]
                )
                for variant in variants:
                    if variant == "handmade" and not has_handmade(path):
                        samples[path.stem][variant].append(
                            {"variant": variant, "error": "no handmade variant"}
                        )
                        continue
                    if variant == "contrib" and contrib_module(path) is None:
                        samples[path.stem][variant].append(
                            {"variant": variant, "error": "no contrib plugin"}
                        )
                        continue
                    if (
                        variant == "contrib"
                        and importlib.util.find_spec(contrib_module(path) or "") is None
                    ):
                        samples[path.stem][variant].append(
                            {"variant": variant, "error": "contrib not installed"}
                        )
                        continue
                    samples[path.stem][variant].append(
                        run_child(path, variant, target, repeats, env)
                    )
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)

    floor_samples = samples.pop("floor")["bare"]
    floor = {
        mode: (
            round(statistics.median(v), 3)
            if (v := [s[mode] for s in floor_samples if mode in s])
            else None
        )
        for mode in MODES
    }
    results = {name: summarise(s, floor) for name, s in samples.items()}
    payload = {
        "python": sys.version.split()[0],
        "quick": args.quick,
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "clock": "thread CPU time (time.thread_time_ns), best batch per process, median of rounds",
        "floor_us": floor,
        "scenarios": results,
    }
    Path(args.output).write_text(json.dumps(payload, indent=2) + "\n")
    print(table(results, floor))
    summary = f"{len(results)} scenarios, {rounds} round(s), {payload['seconds']} s"
    print(f"\n{summary}; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
