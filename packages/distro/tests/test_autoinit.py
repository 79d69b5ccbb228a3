"""Chaining to the application's own sitecustomize."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from spanwise.distro._autoinit import chain_sitecustomize


class TestChain:
    def test_runs_the_next_sitecustomize(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The user's sitecustomize runs; ours stays registered as sys.modules entry."""
        (tmp_path / "sitecustomize.py").write_text(
            "import os\nos.environ['CHAIN_TEST_RAN'] = 'yes'\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delenv("CHAIN_TEST_RAN", raising=False)
        before = sys.modules.get("sitecustomize")
        module = chain_sitecustomize()
        assert ("yes", str(tmp_path / "sitecustomize.py")) == (
            os.environ.get("CHAIN_TEST_RAN"),
            getattr(module, "__file__", None),
        )
        assert before is sys.modules.get("sitecustomize")

    def test_failing_user_sitecustomize_is_logged(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An exception in the user's sitecustomize is logged, not raised."""
        (tmp_path / "sitecustomize.py").write_text("raise ValueError('user bug')\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        assert chain_sitecustomize() is None
        assert any("application's sitecustomize failed" in r.getMessage() for r in caplog.records)
