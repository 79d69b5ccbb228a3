"""The production pipeline switched on from configuration, in programs run under
spanwise-instrument: console span tree, tail sampling from YAML, the Prometheus endpoint with
exemplars, and OTLP export that survives a backend starting late or a process restart."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from spanwise.core.testing import OtlpReceiver, free_port, wait_for_port

pytestmark = pytest.mark.e2e

INSTRUMENT = str(Path(sys.executable).parent / "spanwise-instrument")


def run(tmp_path: Path, env: dict[str, str], source: str, timeout: float = 60) -> str:
    """Run *source* under spanwise-instrument; returns its stdout (it must succeed)."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source))
    proc = subprocess.run(
        [INSTRUMENT, "python", str(app)], env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert 0 == proc.returncode, proc.stderr
    return proc.stdout


CHECKOUT = """
    import time
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("checkout_handler"):
        with tracer.start_as_current_span("validate_cart"):
            time.sleep(0.01)
        with tracer.start_as_current_span("create_order"):
            with tracer.start_as_current_span("check_fraud_score") as span:
                time.sleep(0.2)
                span.set_status(Status(StatusCode.ERROR, "timeout"))
"""


class TestConsoleTree:
    def test_trace_printed_as_a_tree(self, tmp_path: Path, child_env: dict[str, str]) -> None:
        """OTEL_TRACES_EXPORTER=console prints the finished trace as a tree: children
        indented under parents, the slowest sibling marked, the error shown, no colour codes
        (stdout is a pipe)."""
        child_env.update(
            OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )  # fmt: skip
        out = run(tmp_path, child_env, CHECKOUT)
        duration = r"[\d.]+(?:µs|ms|s)"
        expected = [
            rf"checkout_handler {duration}",
            rf"├── validate_cart {duration}",
            rf"└── create_order {duration}  ← slowest",
            rf"    └── check_fraud_score {duration}  ERROR timeout",
        ]
        lines = out.splitlines()
        assert 4 == len(lines), out
        matches = [bool(re.fullmatch(p, line)) for p, line in zip(expected, lines, strict=True)]
        assert [True] * 4 == matches
        assert "\033[" not in out


TAIL_YAML = """
processors:
  tail_sampling:
    decision_wait: 300ms
    num_traces: 1000
    policies:
      - name: errors
        type: status_code
        status_code: {status_codes: [ERROR]}
      - name: slow
        type: latency
        latency: {threshold_ms: 250}
"""

TRAFFIC = """
    import time
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
    tracer = trace.get_tracer("shop")
    for i in range(30):
        with tracer.start_as_current_span("plain"):
            tracer.start_span("plain.child").end()
    with tracer.start_as_current_span("failed") as span:
        tracer.start_span("failed.child").end()
        span.set_status(Status(StatusCode.ERROR, "boom"))
    with tracer.start_as_current_span("slow"):
        time.sleep(0.3)
    time.sleep(1.0)  # decisions are taken while the program runs
"""


class TestTailSampling:
    def test_yaml_file_keeps_error_and_slow_traces_only(
        self, tmp_path: Path, otlp: OtlpReceiver, child_env: dict[str, str]
    ) -> None:
        """SPANWISE_TAIL_SAMPLING=<Collector config>: the error trace (all its spans) and the
        slow trace reach the receiver; none of the 30 plain traces does."""
        config = tmp_path / "collector.yaml"
        config.write_text(TAIL_YAML)
        child_env.update(
            SPANWISE_TAIL_SAMPLING=str(config),
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.http_endpoint,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        run(tmp_path, child_env, TRAFFIC)
        assert otlp.wait_for(lambda r: len(r.spans) >= 3, timeout=10)
        time.sleep(0.5)  # anything wrongly kept would have arrived by now
        names = sorted(span.name for _, _, span in otlp.snapshot().spans)
        assert ["failed", "failed.child", "slow"] == names


FLASK_APP = """
    import os
    from flask import Flask
    from werkzeug.serving import make_server
    app = Flask(__name__)

    @app.get("/hello")
    def hello():
        return "hi"

    make_server("127.0.0.1", int(os.environ["APP_PORT"]), app).serve_forever()
"""

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def flask_app(tmp_path: Path, child_env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """A Flask app under spanwise-instrument with OTEL_METRICS_EXPORTER=prometheus on free
    ports; yields (app port, metrics port)."""
    app_port, metrics_port = free_port(), free_port()
    child_env.update(
        APP_PORT=str(app_port),
        OTEL_METRICS_EXPORTER="prometheus",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(FLASK_APP))
    proc = subprocess.Popen(
        [INSTRUMENT, "python", str(app)], env=child_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_port(app_port, timeout=30)
        wait_for_port(metrics_port, timeout=30)
        yield app_port, metrics_port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr is not None:
            proc.stderr.close()


class TestPrometheusEndpoint:
    def test_histogram_exemplar_names_the_sampled_request(self, flask_app: tuple[int, int]) -> None:
        """/metrics serves OpenMetrics with the request-duration histogram, and its exemplar
        carries the trace id of the sampled request (propagated in its traceparent)."""
        app_port, metrics_port = flask_app
        request = urllib.request.Request(
            f"http://127.0.0.1:{app_port}/hello",
            headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert b"hi" == response.read()
        scrape = urllib.request.Request(
            f"http://127.0.0.1:{metrics_port}/metrics",
            headers={"Accept": "application/openmetrics-text"},
        )
        with urllib.request.urlopen(scrape, timeout=10) as response:
            content_type = response.headers["Content-Type"]
            body = response.read().decode()
        exemplars = re.findall(
            r'^http_server_request_duration_seconds_bucket\{.*\} 1 # \{trace_id="([0-9a-f]{32})"',
            body,
            re.MULTILINE,
        )
        assert ("application/openmetrics-text", [TRACE_ID]) == (
            content_type.split(";")[0],
            exemplars,
        )
        assert body.rstrip().endswith("# EOF")


class LateReceiver(OtlpReceiver):
    """An OTLP/HTTP receiver on a port chosen up front, so it can start after the exporter."""

    def __init__(self, port: int) -> None:
        super().__init__(grpc=False)
        self.http_port = port

    def start(self) -> LateReceiver:
        self._http = ThreadingHTTPServer(("127.0.0.1", self.http_port), self._http_handler())
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self


SPANS = """
    import os, time
    from opentelemetry import trace
    tracer = trace.get_tracer("orders")
    for i in range(int(os.environ["SPAN_COUNT"])):
        tracer.start_span(f"{os.environ['RUN']}-{i}").end()
    time.sleep(0.5)  # the batch processor has tried to export them
    print("PRODUCED", flush=True)
    time.sleep(float(os.environ.get("LINGER", "0")))
    print("PID", os.getpid())
"""


class TestExportThatLosesNothing:
    @pytest.mark.parametrize(("retry", "expected"), [("true", 40), ("false", 0)])
    def test_receiver_starting_late(
        self, tmp_path: Path, child_env: dict[str, str], retry: str, expected: int
    ) -> None:
        """The backend comes up 1 s after the first export failed: with retry (the default)
        every span arrives; with SPANWISE_EXPORT_RETRY=false that batch is lost (the control
        that shows the retry is what delivers)."""
        port = free_port()
        receiver = LateReceiver(port)
        child_env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_EXPORTER_OTLP_TIMEOUT="300",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            SPANWISE_EXPORT_RETRY=retry,
            SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS="20",
            SPANWISE_EXPORT_RETRY_INITIAL_DELAY="0.2",
            SPANWISE_EXPORT_RETRY_MAX_DELAY="0.5",
            SPAN_COUNT="40",
            RUN="late",
            LINGER="4",
        )
        app = tmp_path / "app.py"
        app.write_text(textwrap.dedent(SPANS))
        proc = subprocess.Popen(
            [INSTRUMENT, "python", str(app)], env=child_env, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            assert "PRODUCED\n" == proc.stdout.readline()
            time.sleep(1.0)
            receiver.start()
            assert 0 == proc.wait(timeout=60)
            receiver.wait_for(lambda r: len(r.spans) >= expected, timeout=5)
            got = len(receiver.snapshot().spans)
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            receiver.stop()
        assert expected == got

    def test_disk_buffer_delivered_by_the_next_process(
        self, tmp_path: Path, child_env: dict[str, str]
    ) -> None:
        """With SPANWISE_EXPORT_BUFFER_DIR, spans a process could not deliver (backend down)
        stay on disk under its pid, and the next process (a restart) delivers them, in order,
        before its own."""
        port = free_port()
        buffer_dir = tmp_path / "spool"
        child_env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_EXPORTER_OTLP_TIMEOUT="300",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            SPANWISE_EXPORT_BUFFER_DIR=str(buffer_dir),
            SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS="1",
            SPANWISE_EXPORT_RETRY_INITIAL_DELAY="0.1",
            SPANWISE_EXPORT_RETRY_MAX_DELAY="0.3",
            SPAN_COUNT="25",
            RUN="first",
            LINGER="1",
        )
        first_pid = run(tmp_path, child_env, SPANS).split("PID", 1)[1].split()[0]
        left = sorted(p.name for p in (buffer_dir / first_pid).iterdir())
        assert [] == [name for name in left if not name.endswith(".otlp")]
        assert 0 < len(left)

        with LateReceiver(port) as receiver:
            child_env.update(RUN="second", SPAN_COUNT="5", LINGER="2")
            run(tmp_path, child_env, SPANS)
            receiver.wait_for(lambda r: len(r.spans) >= 30, timeout=10)
            names = [span.name for _, _, span in receiver.snapshot().spans]
        expected = [f"first-{i}" for i in range(25)] + [f"second-{i}" for i in range(5)]

        assert (expected, False) == (names, (buffer_dir / first_pid).exists())
