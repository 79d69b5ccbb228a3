"""``OTEL_METRICS_EXPORTER=prometheus``: the core's exemplar-aware reader, made fork-aware.

A listening socket and its server thread cannot be shared by a parent and its forked children:
the thread does not exist in the child, and only one process can bind a fixed port. So:

* by default the process that configured the SDK serves the endpoint; a forked child closes its
  copy of the listening socket and serves nothing (logged once in the child): its metrics
  reach Prometheus only through OTLP;
* with ``SPANWISE_PROMETHEUS_PORT_PER_WORKER=true`` every process (a forked child, or a worker
  started afresh) serves on the first free port from the configured one upwards (at most
  :data:`PORTS_PER_HOST` ports), so Prometheus scrapes ``port``, ``port+1``, ... one per process.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import weakref

from spanwise.core.metrics import PrometheusExemplarReader

__all__ = ["PORTS_PER_HOST", "ForkAwarePrometheusReader"]

logger = logging.getLogger("spanwise.distro")

#: How many ports from the configured one a process tries with per-worker ports.
PORTS_PER_HOST = 64


def _port_free(host: str, port: int) -> bool:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError:
        return False
    return True


def _after_fork(ref: weakref.ref[ForkAwarePrometheusReader]) -> None:
    reader = ref()
    if reader is not None:
        try:
            reader._serve_in_child()
        except Exception as exc:  # noqa: BLE001  never break the forked child
            logger.warning(
                "spanwise: the Prometheus endpoint could not restart after fork: %s", exc
            )


class ForkAwarePrometheusReader(PrometheusExemplarReader):
    """:class:`~spanwise.core.metrics.PrometheusExemplarReader` that behaves after ``fork()``
    (see the module documentation).

    .. versionadded:: 0.1.0
    """

    def __init__(self, host: str, port: int, *, port_per_worker: bool = False) -> None:
        super().__init__(host, port, start_server=not port_per_worker)
        self.base_port = port
        self.port_per_worker = port_per_worker
        if port_per_worker:
            self._serve_first_free()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=functools.partial(_after_fork, weakref.ref(self)))

    def _serve_first_free(self) -> None:
        if self.base_port == 0:
            self.serve(self.host, 0)
            return
        last = min(65535, self.base_port + PORTS_PER_HOST - 1)
        for port in range(self.base_port, last + 1):
            if _port_free(self.host, port) and self.serve(self.host, port):
                return
        logger.warning(
            "spanwise: no free port for the Prometheus endpoint in %s:%d-%d; metrics of "
            "process %d are not served",
            self.host,
            self.base_port,
            last,
            os.getpid(),
        )

    def _serve_in_child(self) -> None:
        """In a forked child: drop the parent's socket; serve on our own port if asked to."""
        parent_was_serving = self.release_after_fork()
        if self.port_per_worker:
            self._serve_first_free()
        elif parent_was_serving:
            logger.warning(
                "spanwise: the Prometheus endpoint stays with the parent process; metrics of "
                "forked process %d are not served (set SPANWISE_PROMETHEUS_PORT_PER_WORKER=true "
                "for one port per process, or export metrics with OTLP)",
                os.getpid(),
            )
