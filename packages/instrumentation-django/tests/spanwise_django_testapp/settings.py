"""Minimal settings: no database queries, signed-cookie sessions, auth for ``request.user``."""

import os

SECRET_KEY = "spanwise-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "spanwise_django_testapp.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
if os.environ.get("SPANWISE_DJANGO_APP_MODE") == "installed_apps":
    INSTALLED_APPS.append("spanwise.instrumentation.django")
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
if os.environ.get("SPANWISE_DJANGO_APP_MODE") == "middleware":
    MIDDLEWARE.insert(0, "spanwise.instrumentation.django.TracingMiddleware")
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None
