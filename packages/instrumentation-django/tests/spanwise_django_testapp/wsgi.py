"""The WSGI application gunicorn serves; spans go to ``$SPANWISE_SPAN_FILE``."""

import os

from spanwise.core.testing import install_jsonl_export

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanwise_django_testapp.settings")
install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="django-wsgi")

if os.environ.get("SPANWISE_DJANGO_APP_MODE", "instrumentor") == "instrumentor":
    from spanwise.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
