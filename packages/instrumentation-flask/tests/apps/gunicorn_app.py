"""The test views served by gunicorn; spans go to the JSON-lines file named by the env.

Instrumented before Flask is imported, as an app's entry module would do it.
"""

import os

from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.flask import FlaskInstrumentor

install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="flask-gunicorn")
FlaskInstrumentor().instrument()

from views import make_app  # noqa: E402 - after instrument(), on purpose

app = make_app()
