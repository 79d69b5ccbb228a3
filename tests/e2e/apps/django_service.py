"""The last hop of the e2e chain: a one-module Django project (served by gunicorn)."""

import os

from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.django import DjangoInstrumentor

install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="django-service")
DjangoInstrumentor().instrument()

from django.conf import settings  # noqa: E402 - after instrument(), on purpose

settings.configure(
    DEBUG=False,
    SECRET_KEY="spanwise-e2e",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
    LOGGING_CONFIG=None,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"item": item_id, "service": "django"})


urlpatterns = [path("items/<int:item_id>/", item)]

application = get_wsgi_application()
