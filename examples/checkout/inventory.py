"""Inventory service (Django): stock levels, and the fraud-score "external API" it fronts.

The fraud scorer is slow or down for a few percent of calls, as in the incident walkthrough.
"""

from __future__ import annotations

import os
import random
import time

import django
from demo_common import configure_logging, env
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="demo-only-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

log = configure_logging("inventory")
rng = random.Random(int(env("DEMO_SEED", "7")) + os.getpid())
SLOW_SHARE = float(env("DEMO_FRAUD_SLOW", "0.05"))
DOWN_SHARE = float(env("DEMO_FRAUD_DOWN", "0.02"))
LAGGY_SHARE = float(env("DEMO_FRAUD_LAGGY", "0.03"))


def stock(request: HttpRequest, sku: str) -> JsonResponse:
    level = 3 + sum(map(ord, sku)) % 40
    log.info("stock_checked", sku=sku, level=level)
    return JsonResponse({"sku": sku, "in_stock": level})


def fraud_score(request: HttpRequest) -> JsonResponse:
    draw = rng.random()
    if draw < SLOW_SHARE:
        log.warning("fraud_provider_slow", waited_s=1.5)
        time.sleep(1.5)
    elif draw < SLOW_SHARE + DOWN_SHARE:
        log.error("fraud_provider_unavailable", retry_after_s=60)
        response = JsonResponse({"error": "provider unavailable"}, status=503)
        response["Retry-After"] = "60"
        return response
    elif draw < SLOW_SHARE + DOWN_SHARE + LAGGY_SHARE:
        time.sleep(0.6)
    score = round(rng.random() * 0.3, 3)
    log.info("fraud_scored", score=score)
    return JsonResponse({"score": score})


urlpatterns = [
    path("inventory/<str:sku>/", stock),
    path("fraud/score/", fraud_score),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure

application = get_wsgi_application()
