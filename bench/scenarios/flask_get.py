"""One GET /users/<int:uid> through a Flask app in-process, called as a WSGI server calls it
(``app(environ, start_response)``) with a prebuilt environ."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

NAME = "flask_get"
CONTRIB = "opentelemetry.instrumentation.flask"
HANDMADE = True

_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/users/42",
    "QUERY_STRING": "page=2",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "*/*",
    "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.errors": sys.stderr,
}


def make(variant: str) -> Callable[[], object]:
    # Instrument first: contrib replaces the flask.Flask class, so the app must be made after.
    if variant == "contrib":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor as ContribFlask

        ContribFlask().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument()
    import flask

    app = flask.Flask("bench_flask_get")

    @app.route("/users/<int:uid>")
    def user(uid: int) -> str:
        return f"user {uid}"

    if variant == "handmade":
        import _handmade

        @app.before_request
        def route() -> None:
            rule = flask.request.url_rule
            if rule is not None:
                flask.request.environ[_handmade.ROUTE_KEY] = rule.rule

        app.wsgi_app = _handmade.wsgi_middleware(app.wsgi_app)  # type: ignore[method-assign]

    empty = b""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    def op() -> object:
        environ = dict(_ENVIRON)
        environ["wsgi.input"] = io.BytesIO(empty)
        response = app(environ, start_response)
        try:
            return b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    for _ in range(200):
        op()
    return op
