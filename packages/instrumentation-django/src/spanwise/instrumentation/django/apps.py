"""The Django app: add ``"spanwise.instrumentation.django"`` to ``INSTALLED_APPS`` to trace."""

from __future__ import annotations

from django.apps import AppConfig

from ._instrumentor import DjangoInstrumentor

__all__ = ["SpanwiseDjangoConfig"]


class SpanwiseDjangoConfig(AppConfig):  # type: ignore[misc]
    """Instruments Django when the app registry is ready (options from the environment).

    .. versionadded:: 0.1.0
    """

    name = "spanwise.instrumentation.django"
    label = "spanwise_django"
    verbose_name = "Spanwise tracing"
    default = True

    def ready(self) -> None:
        DjangoInstrumentor().instrument()
