"""What the ``spanwise-instrument`` sitecustomize does at interpreter start."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from types import ModuleType

from ._configure import configure
from ._loader import load_instrumentors

__all__ = ["AUTO_DIR", "chain_sitecustomize", "initialize"]

logger = logging.getLogger("spanwise.distro")

#: The directory holding our ``sitecustomize.py`` (prepended to ``PYTHONPATH``).
AUTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_auto")

_done_pid: int | None = None


def initialize() -> None:
    """Configure the SDK and load every plugin, once per process; never raises."""
    global _done_pid
    if _done_pid == os.getpid():
        return
    _done_pid = os.getpid()
    try:
        configure()
    except Exception:
        logger.exception("spanwise: configuring the OpenTelemetry SDK failed")
    try:
        load_instrumentors()
    except Exception:
        logger.exception("spanwise: loading the instrumentations failed")


def chain_sitecustomize() -> ModuleType | None:
    """Import the next ``sitecustomize`` on ``sys.path`` after ours (the user's own), if any."""
    ours = sys.modules.get("sitecustomize")
    auto = os.path.normcase(os.path.realpath(AUTO_DIR))
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.normcase(os.path.realpath(p or ".")) != auto]
    sys.modules.pop("sitecustomize", None)
    try:
        return importlib.import_module("sitecustomize")
    except ImportError as exc:
        if exc.name != "sitecustomize":
            logger.exception("spanwise: the application's sitecustomize failed")
        return None
    except Exception:
        logger.exception("spanwise: the application's sitecustomize failed")
        return None
    finally:
        sys.path[:] = saved
        if ours is not None:
            sys.modules["sitecustomize"] = ours
        else:
            sys.modules.pop("sitecustomize", None)
