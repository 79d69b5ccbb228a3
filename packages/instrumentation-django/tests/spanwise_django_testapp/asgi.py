"""The ASGI application uvicorn serves; spans go to ``$SPANWISE_SPAN_FILE``."""

import os

from spanwise.core.testing import install_jsonl_export

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanwise_django_testapp.settings")
install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="django-asgi")

if os.environ.get("SPANWISE_DJANGO_APP_MODE", "instrumentor") == "instrumentor":
    from spanwise.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument()

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
