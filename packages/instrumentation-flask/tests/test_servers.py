"""The plugin under real servers on 127.0.0.1: gunicorn (1 sync worker) and Flask's debug
reloader, in subprocesses, called over real sockets; spans come back through a JSON-lines file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from spanwise.core.testing import SpanRecord, free_port, read_spans, wait_for_port

APPS = Path(__file__).parent / "apps"


def wait_spans(
    path: Path, keep: Callable[[SpanRecord], bool], count: int = 1, timeout: float = 15
) -> list[SpanRecord]:
    """The spans in *path* that *keep* selects, once there are *count* of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [s for s in read_spans(path) if keep(s)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and everything it started (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Gunicorn:
    def __init__(self, port: int, span_file: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.span_file = span_file


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """gunicorn serving tests/apps/gunicorn_app.py with one sync worker."""
    span_file = tmp_path_factory.mktemp("gunicorn") / "spans.jsonl"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "sync", "-b", f"127.0.0.1:{port}",
         "--chdir", str(APPS), "--graceful-timeout", "2", "gunicorn_app:app"],
        env={**os.environ, "SPANWISE_SPAN_FILE": str(span_file)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield Gunicorn(port, span_file)
    finally:
        stop(proc)


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent, f"00-{trace_id}-{parent}-01"


def _in_trace(trace_id: str) -> Callable[[SpanRecord], bool]:
    return lambda s: s.trace_id == int(trace_id, 16)


class TestUnderGunicorn:
    def test_request_span_with_remote_parent(self, gunicorn: Gunicorn) -> None:
        """A GET with traceparent: SERVER span named by route, child of the caller, and the
        view's span under it; attributes from the real socket."""
        trace_id, parent, header = _traceparent()
        response = requests.get(f"{gunicorn.url}/users/42?x=1", headers={"traceparent": header})
        spans = wait_spans(gunicorn.span_file, _in_trace(trace_id), 2)
        server = next(s for s in spans if s.kind == "SERVER")
        child = next(s for s in spans if s.kind == "INTERNAL")
        attrs = server.attributes
        assert (
            200,
            "GET /users/<int:uid>",
            int(parent, 16),
            server.span_id,
            ("/users/<int:uid>", "/users/42", "x=1", 200),
            ("127.0.0.1", gunicorn.port, "127.0.0.1", "1.1"),
        ) == (
            response.status_code,
            server.name,
            server.parent_span_id,
            child.parent_span_id,
            (attrs["http.route"], attrs["url.path"], attrs["url.query"], attrs[
                "http.response.status_code"]),
            (attrs["server.address"], attrs["server.port"], attrs["client.address"],
             attrs["network.protocol.version"]),
        )  # fmt: skip

    def test_unhandled_exception(self, gunicorn: Gunicorn) -> None:
        """/boom: Flask's 500 page reaches the client; the span has the exception."""
        trace_id, _, header = _traceparent()
        response = requests.get(f"{gunicorn.url}/boom", headers={"traceparent": header})
        [span] = wait_spans(gunicorn.span_file, _in_trace(trace_id))
        assert (500, "ERROR", ("exception",), "views.AppError") == (
            response.status_code,
            span.status,
            span.events,
            span.attributes["error.type"],
        )

    def test_streamed_response(self, gunicorn: Gunicorn) -> None:
        """A streamed body arrives whole and its span is recorded once the body was sent."""
        trace_id, _, header = _traceparent()
        response = requests.get(f"{gunicorn.url}/stream", headers={"traceparent": header})
        [span] = wait_spans(gunicorn.span_file, _in_trace(trace_id))
        assert ("chunk0;chunk1;chunk2;", "GET /stream") == (response.text, span.name)

    def test_send_file_through_the_servers_file_wrapper(self, gunicorn: Gunicorn) -> None:
        """send_file under gunicorn (wsgi.file_wrapper) sends the file and is traced."""
        trace_id, _, header = _traceparent()
        response = requests.get(f"{gunicorn.url}/file", headers={"traceparent": header})
        [span] = wait_spans(gunicorn.span_file, _in_trace(trace_id))
        expected = (APPS / "views.py").read_bytes()
        assert (expected, 200) == (response.content, span.attributes["http.response.status_code"])

    def test_malformed_traceparent_starts_a_fresh_trace(self, gunicorn: Gunicorn) -> None:
        """A broken traceparent is ignored: the request is served, its span is a root."""
        marker = str(secrets.randbelow(10**9))
        response = requests.get(
            f"{gunicorn.url}/api/items/{marker}", headers={"traceparent": "00-xyz-bad-01"}
        )
        [span] = wait_spans(
            gunicorn.span_file, lambda s: s.attributes.get("url.path") == f"/api/items/{marker}"
        )
        assert ({"name": marker}, None) == (response.json(), span.parent_span_id)


class TestDebugReloader:
    def test_reloaded_children_stay_instrumented(self, tmp_path: Path, span_file: Path) -> None:
        """app.run(debug=True): the reloader's child serves traced requests, and so does the
        next child after a code change triggers a reload."""
        script = tmp_path / "reloader_app.py"
        shutil.copy(APPS / "reloader_app.py", script)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(span_file)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            first = requests.get(f"http://127.0.0.1:{port}/pid", timeout=5).text
            # A reload kills the child at once: let it write its span before changing code.
            wait_spans(span_file, lambda s: str(s.resource.get("process.pid")) == first)
            future = time.time() + 5
            os.utime(script, (future, future))
            second = _wait_new_pid(port, first)
            # Requests the old child answered while reloading add spans of its own: wait
            # for the new child's span (bounded), then compare the pids seen.
            wait_spans(span_file, lambda s: str(s.resource.get("process.pid")) == second)
            pids = {str(s.resource.get("process.pid")) for s in read_spans(span_file)}
        finally:
            stop(proc)
        assert (True, {first, second}) == (str(proc.pid) not in (first, second), pids)


def _wait_new_pid(port: int, old: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = requests.get(f"http://127.0.0.1:{port}/pid", timeout=5).text
            if pid != old:
                return pid
        except requests.RequestException:  # refused or cut while the child restarts
            pass
        time.sleep(0.1)
    raise TimeoutError("the reloader did not restart the app")
