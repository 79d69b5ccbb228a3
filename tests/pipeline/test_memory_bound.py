"""bench/memory_bound.py, briefly: with the backend down, resident memory stays bounded.

A memory assertion, not a timing one: the peak RSS must stay under a generous bound while spans
are produced flat out and the backend is unreachable (the figure for the closing note comes
from a longer run of the same script).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "memory_bound.py"


@pytest.mark.slow
class TestMemoryBound:
    def test_rss_stays_under_the_bound(self, tmp_path: Path) -> None:
        """Peak RSS < 300 MB; spans went to the capped directory, none of it over max_bytes."""
        max_bytes = 4 * 1024 * 1024
        out = subprocess.run(
            [sys.executable, str(SCRIPT), "--seconds", "4", "--max-bytes", str(max_bytes),
             "--bound-mb", "300", "--directory", str(tmp_path)],
            capture_output=True, text=True, timeout=100,
        )  # fmt: skip
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        assert 0 == out.returncode, figures
        assert figures["max_rss_mb"] < 300
        assert figures["spans_on_disk"] > 0
        assert figures["bytes_on_disk"] <= max_bytes
        assert sum(p.stat().st_size for p in tmp_path.glob("*.otlp")) <= max_bytes
