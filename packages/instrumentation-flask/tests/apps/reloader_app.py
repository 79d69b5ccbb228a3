"""A Flask app run with the debug reloader: ``python reloader_app.py PORT SPAN_FILE``.

The reloader runs this file again in a child process (and again after every change); each
run instruments at import time, so every child serves traced requests.
"""

import os
import sys

from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.flask import FlaskInstrumentor

install_jsonl_export(sys.argv[2], service_name="flask-reloader")
FlaskInstrumentor().instrument()

import flask  # noqa: E402 - after instrument(), on purpose

app = flask.Flask(__name__)


@app.route("/pid")
def pid() -> str:
    return str(os.getpid())


if __name__ == "__main__":
    app.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        debug=True,
        use_reloader=True,
        reloader_type="stat",
        reloader_interval=0.2,
    )
