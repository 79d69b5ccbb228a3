"""Loaded by Python at start-up under ``spanwise-instrument``: configure, instrument, then run
the application's own ``sitecustomize`` (the next one on ``sys.path``)."""

try:
    from spanwise.distro._autoinit import chain_sitecustomize, initialize
except Exception as exc:  # noqa: BLE001  never stop the interpreter from starting
    import sys

    sys.stderr.write(f"spanwise: auto-instrumentation unavailable: {exc}\n")
else:
    initialize()
    chain_sitecustomize()
