"""Configuration: the standard ``OTEL_*`` variables, ``SPANWISE_*`` ones, keyword overrides."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "DISABLED_INSTRUMENTATIONS",
    "SENSITIVE_HEADERS",
    "ExcludedUrls",
    "HeaderCapture",
    "Options",
    "disabled_instrumentations",
    "env_bool",
    "env_int",
    "env_list",
    "max_attribute_length",
]

T = TypeVar("T")

DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
EXCLUDED_URLS = "OTEL_PYTHON_EXCLUDED_URLS"
CAPTURE_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
SANITIZE_FIELDS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"
MAX_ATTRIBUTE_LENGTH = "SPANWISE_MAX_ATTRIBUTE_LENGTH"
CAPTURE_SENSITIVE = "SPANWISE_HTTP_CAPTURE_SENSITIVE_HEADERS"

#: Header values never captured unless ``SPANWISE_HTTP_CAPTURE_SENSITIVE_HEADERS=true``.
SENSITIVE_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
)
REDACTED = "[REDACTED]"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_list(name: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """A comma-separated variable as a list of stripped, non-empty items."""
    raw = (os.environ if environ is None else environ).get(name, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """A boolean variable; unknown spellings fall back to *default*."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """An integer variable; unparsable values fall back to *default*."""
    raw = (os.environ if environ is None else environ).get(name)
    try:
        return int(raw) if raw is not None and raw.strip() else default
    except ValueError:
        return default


def max_attribute_length() -> int:
    """The cap on string attributes our plugins record (``SPANWISE_MAX_ATTRIBUTE_LENGTH``)."""
    return max(16, env_int(MAX_ATTRIBUTE_LENGTH, 4096))


def disabled_instrumentations(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Names in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (``*`` disables all)."""
    return frozenset(name.lower() for name in env_list(DISABLED_INSTRUMENTATIONS, environ))


class ExcludedUrls:
    """Regular expressions (searched, as in opentelemetry-python-contrib) that exclude URLs.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_pattern", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in patterns if p)
        self._pattern = (
            re.compile("|".join(f"(?:{p})" for p in self.patterns)) if self.patterns else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def match(self, url: str) -> bool:
        """True when *url* is excluded."""
        return self._pattern is not None and self._pattern.search(url) is not None


def _compile_names(names: Iterable[str]) -> re.Pattern[str] | None:
    names = [n.strip() for n in names if n.strip()]
    if not names:
        return None
    return re.compile("|".join(f"(?:{n})" for n in names), re.IGNORECASE)


class HeaderCapture:
    """Which headers to record as ``http.{request,response}.header.<name>`` and which to hide.

    Names are case-insensitive regular expressions matched against the whole header name.
    Values of sanitized headers (the ``SANITIZE_FIELDS`` patterns, plus credentials and
    cookies unless the user opts in) are recorded as ``[REDACTED]``.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_names", "_sanitize", "_sensitive", "prefix")

    def __init__(
        self,
        names: Iterable[str],
        prefix: str,
        sanitize: Iterable[str] = (),
        capture_sensitive: bool = False,
    ) -> None:
        self._names = _compile_names(names)
        self._sanitize = _compile_names(sanitize)
        self._sensitive = frozenset() if capture_sensitive else frozenset(SENSITIVE_HEADERS)
        self.prefix = prefix

    def __bool__(self) -> bool:
        return self._names is not None

    def attributes(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        """Attributes for the matching *headers* (name, value pairs; repeated names kept)."""
        if self._names is None:
            return {}
        limit = max_attribute_length()
        out: dict[str, list[str]] = {}
        for name, value in headers:
            lname = name.lower()
            if not self._names.fullmatch(lname):
                continue
            hidden = lname in self._sensitive or (
                self._sanitize is not None and self._sanitize.fullmatch(lname) is not None
            )
            shown = REDACTED if hidden else value[:limit]
            out.setdefault(self.prefix + lname.replace("-", "_"), []).append(shown)
        return out


@dataclass(frozen=True)
class Options:
    """The option vocabulary shared by every plugin; keyword arguments override the environment.

    Plugin-specific options stay in :attr:`extra` and are read with :meth:`get`.

    .. versionadded:: 0.1.0
    """

    name: str
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    excluded_urls: ExcludedUrls = field(default_factory=lambda: ExcludedUrls(()))
    request_hook: Callable[..., Any] | None = None
    response_hook: Callable[..., Any] | None = None
    server_request_headers: HeaderCapture = field(
        default_factory=lambda: HeaderCapture((), "http.request.header.")
    )
    server_response_headers: HeaderCapture = field(
        default_factory=lambda: HeaderCapture((), "http.response.header.")
    )
    client_request_headers: HeaderCapture = field(
        default_factory=lambda: HeaderCapture((), "http.request.header.")
    )
    client_response_headers: HeaderCapture = field(
        default_factory=lambda: HeaderCapture((), "http.response.header.")
    )
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, name: str, kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Options:
        """Resolve options for plugin *name* from *kwargs* and the environment."""
        env = os.environ if environ is None else environ
        kw = dict(kwargs)
        excluded = kw.pop("excluded_urls", None)
        if excluded is None:
            own = env_list(f"OTEL_PYTHON_{name.upper()}_EXCLUDED_URLS", env)
            excluded_list = own or env_list(EXCLUDED_URLS, env)
        elif isinstance(excluded, str):
            excluded_list = [e.strip() for e in excluded.split(",") if e.strip()]
        else:
            excluded_list = list(excluded)
        sanitize = kw.pop("sanitize_fields", None)
        sanitize_list = env_list(SANITIZE_FIELDS, env) if sanitize is None else list(sanitize)
        sensitive = bool(
            kw.pop("capture_sensitive_headers", env_bool(CAPTURE_SENSITIVE, False, env))
        )

        def capture(key: str, env_suffix: str, prefix: str) -> HeaderCapture:
            given = kw.pop(key, None)
            names = env_list(CAPTURE_HEADERS + env_suffix, env) if given is None else list(given)
            return HeaderCapture(names, prefix, sanitize_list, sensitive)

        # Server plugins call these request/response headers; client plugins too: one vocabulary.
        server_req = capture("capture_request_headers", "SERVER_REQUEST", "http.request.header.")
        server_resp = capture(
            "capture_response_headers", "SERVER_RESPONSE", "http.response.header."
        )
        client_req = capture(
            "capture_client_request_headers", "CLIENT_REQUEST", "http.request.header."
        )
        client_resp = capture(
            "capture_client_response_headers", "CLIENT_RESPONSE", "http.response.header."
        )
        return cls(
            name=name,
            tracer_provider=kw.pop("tracer_provider", None),
            meter_provider=kw.pop("meter_provider", None),
            logger_provider=kw.pop("logger_provider", None),
            excluded_urls=ExcludedUrls(excluded_list),
            request_hook=kw.pop("request_hook", None),
            response_hook=kw.pop("response_hook", None),
            server_request_headers=server_req,
            server_response_headers=server_resp,
            client_request_headers=client_req,
            client_response_headers=client_resp,
            extra=kw,
        )

    def get(
        self,
        key: str,
        default: T,
        env: str | None = None,
        parse: Callable[[str], T] | None = None,
    ) -> T:
        """A plugin option: the keyword if given, else the variable *env* parsed, else *default*."""
        if key in self.extra:
            return self.extra[key]  # type: ignore[no-any-return]
        if env is not None:
            raw = os.environ.get(env)
            if raw is not None:
                if parse is not None:
                    try:
                        return parse(raw)
                    except (TypeError, ValueError):
                        return default
                if isinstance(default, bool):
                    return env_bool(env, default)  # type: ignore[return-value]
                if isinstance(default, int):
                    return env_int(env, default)  # type: ignore[return-value]
                return raw  # type: ignore[return-value]
        return default
