"""The Flask app the tests serve: in process (test client) and under gunicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask
from opentelemetry import trace


class AppError(Exception):
    """Raised by /boom; nothing handles it."""


def make_app() -> flask.Flask:
    app = flask.Flask("spanwise_flask_tests")
    bp = flask.Blueprint("api", __name__, url_prefix="/api")

    @app.route("/users/<int:uid>")
    def user(uid: int) -> Any:
        with trace.get_tracer("views").start_as_current_span("load user"):
            pass
        return {"uid": uid, "traceparent": flask.request.headers.get("traceparent")}

    @app.route("/boom")
    def boom() -> Any:
        raise AppError("boom")

    @app.route("/teapot")
    def teapot() -> Any:
        flask.abort(418)

    @app.route("/stream")
    def stream() -> Any:
        def chunks() -> Iterator[bytes]:
            for i in range(3):
                yield f"chunk{i};".encode()

        return flask.Response(chunks(), mimetype="text/plain")

    @app.route("/stream-traced")
    def stream_traced() -> Any:
        def chunks() -> Iterator[bytes]:
            for i in range(2):
                with trace.get_tracer("views").start_as_current_span(f"chunk {i}"):
                    yield b"x"

        return flask.Response(chunks(), mimetype="text/plain")

    @app.route("/stream-fails")
    def stream_fails() -> Any:
        def chunks() -> Iterator[bytes]:
            yield b"first;"
            raise AppError("mid-stream")

        return flask.Response(chunks(), mimetype="text/plain")

    @app.route("/file")
    def file() -> Any:
        return flask.send_file(__file__, mimetype="text/plain")

    @app.route("/headers")
    def headers() -> Any:
        response = flask.make_response("ok")
        response.headers["X-Reply"] = "yes"
        response.headers["Set-Cookie"] = "session=secret"
        return response

    @bp.route("/items/<name>", methods=["GET", "POST"])
    def item(name: str) -> Any:
        return {"name": name}

    app.register_blueprint(bp)
    return app
