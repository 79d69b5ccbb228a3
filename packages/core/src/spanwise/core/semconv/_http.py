"""HTTP semantic-convention helpers, each written once for every HTTP plugin."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from opentelemetry.trace import StatusCode

from . import _names as n

__all__ = [
    "KNOWN_METHODS",
    "SENSITIVE_QUERY_KEYS",
    "asgi_headers",
    "client_status",
    "error_type",
    "normalize_method",
    "protocol_version",
    "redact_query",
    "redact_url",
    "server_attributes_from_environ",
    "server_attributes_from_scope",
    "server_span_name",
    "server_status",
    "split_host_port",
    "wsgi_headers",
]

#: The methods the HTTP conventions know; others are recorded as ``_OTHER``.
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
OTHER_METHOD = "_OTHER"

#: Query keys whose values are replaced by ``REDACTED`` in ``url.query`` and ``url.full``.
SENSITIVE_QUERY_KEYS = (
    "sig",
    "signature",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "awsaccesskeyid",
    "x-goog-signature",
    "x-goog-credential",
)
REDACTED = "REDACTED"


@lru_cache(maxsize=1)
def _known_methods(raw: str | None) -> frozenset[str]:
    if not raw:
        return KNOWN_METHODS
    return frozenset(m.strip().upper() for m in raw.split(",") if m.strip())


def normalize_method(method: str) -> str:
    """The method as the conventions want it: known methods as-is, anything else ``_OTHER``.

    ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` replaces the known set.
    """
    known = _known_methods(os.environ.get("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"))
    if method in known:
        return method
    upper = method.upper()
    return upper if upper in known else OTHER_METHOD


def server_span_name(method: str, route: str | None) -> str:
    """``{METHOD} {route}``; ``{METHOD}`` with no route; ``HTTP`` stands for unknown methods."""
    prefix = "HTTP" if method == OTHER_METHOD else method
    return f"{prefix} {route}" if route else prefix


@lru_cache(maxsize=1)
def _sensitive_keys(extra: str | None) -> frozenset[str]:
    keys = set(SENSITIVE_QUERY_KEYS)
    if extra:
        keys.update(k.strip().lower() for k in extra.split(",") if k.strip())
    return frozenset(keys)


def redact_query(query: str) -> str:
    """Replace the values of sensitive query keys by ``REDACTED``; everything else is kept.

    Extra keys come from ``SPANWISE_URL_REDACT_QUERY_KEYS`` (comma-separated).
    """
    if not query or "=" not in query:
        return query
    keys = _sensitive_keys(os.environ.get("SPANWISE_URL_REDACT_QUERY_KEYS"))
    lowered = query.lower()
    if not any(k in lowered for k in keys):
        return query
    parts = query.split("&")
    for i, part in enumerate(parts):
        key, sep, _ = part.partition("=")
        if sep and key.lower() in keys:
            parts[i] = f"{key}={REDACTED}"
    return "&".join(parts)


def redact_url(url: str) -> str:
    """Hide credentials in the authority and sensitive query values of a full URL."""
    scheme_end = url.find("://")
    if scheme_end != -1:
        start = scheme_end + 3
        end = len(url)
        for ch in "/?#":
            pos = url.find(ch, start)
            if pos != -1 and pos < end:
                end = pos
        at = url.rfind("@", start, end)
        if at != -1:
            url = f"{url[:start]}{REDACTED}:{REDACTED}{url[at:]}"
    q = url.find("?")
    if q == -1:
        return url
    frag = url.find("#", q)
    query = url[q + 1 :] if frag == -1 else url[q + 1 : frag]
    tail = "" if frag == -1 else url[frag:]
    return f"{url[: q + 1]}{redact_query(query)}{tail}"


def server_status(status_code: int) -> tuple[StatusCode, str | None]:
    """Server spans: 5xx is an error (with ``error.type`` the code), 4xx is not."""
    if status_code >= 500 or status_code < 100:
        return StatusCode.ERROR, str(status_code)
    return StatusCode.UNSET, None


def client_status(status_code: int) -> tuple[StatusCode, str | None]:
    """Client spans: 4xx and 5xx are errors."""
    if status_code >= 400 or status_code < 100:
        return StatusCode.ERROR, str(status_code)
    return StatusCode.UNSET, None


def error_type(exc: BaseException) -> str:
    """The fully qualified class name of an exception (builtins without a module)."""
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__") or not module:
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def split_host_port(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 in brackets) to a host and an optional port."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, None
        host, rest = value[1:end], value[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or ":" in host:
            return value, None
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = None
    if port is not None and not 0 < port < 65536:
        port = None
    return host, port


def protocol_version(server_protocol: str) -> str | None:
    """``HTTP/1.1`` to ``1.1``; ``HTTP/2`` to ``2``."""
    if server_protocol.upper().startswith("HTTP/"):
        return server_protocol[5:] or None
    return None


def _first_forwarded_for(value: str) -> str | None:
    first = value.split(",", 1)[0].strip()
    return first or None


def _forwarded_client(forwarded: str) -> str | None:
    for part in forwarded.split(",", 1)[0].split(";"):
        key, _, val = part.strip().partition("=")
        if key.lower() == "for" and val:
            val = val.strip('"')
            if val.startswith("["):
                return val[1 : val.find("]")] if "]" in val else None
            return val.split(":", 1)[0] if val.count(":") == 1 else val
    return None


def wsgi_headers(environ: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """The request headers of a WSGI environ as ``(name, value)`` pairs."""
    for key, value in environ.items():
        if not isinstance(value, str):
            continue
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            yield key.replace("_", "-").lower(), value


def asgi_headers(headers: Iterable[tuple[bytes, bytes]]) -> Iterable[tuple[str, str]]:
    """ASGI header pairs (bytes) as ``(name, value)`` strings (latin-1, never raises)."""
    for name, value in headers:
        try:
            yield bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1")
        except (TypeError, ValueError):
            continue


def _wsgi_path(environ: Mapping[str, Any]) -> str:
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    try:
        # WSGI hands the path as latin-1-decoded bytes; recover the original text.
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


def server_attributes_from_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """Every HTTP server attribute a WSGI environ gives (not the route or status)."""
    method_original = str(environ.get("REQUEST_METHOD", ""))
    method = normalize_method(method_original)
    attrs: dict[str, Any] = {
        n.HTTP_REQUEST_METHOD: method,
        n.URL_SCHEME: str(environ.get("wsgi.url_scheme", "http")),
        n.URL_PATH: _wsgi_path(environ) or "/",
    }
    if method == OTHER_METHOD:
        attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
    query = environ.get("QUERY_STRING")
    if query:
        attrs[n.URL_QUERY] = redact_query(str(query))
    host = environ.get("HTTP_HOST")
    if host:
        address, port = split_host_port(str(host))
    else:
        address = str(environ.get("SERVER_NAME", "")) or None  # type: ignore[assignment]
        try:
            port = int(environ.get("SERVER_PORT", 0)) or None
        except (TypeError, ValueError):
            port = None
    if address:
        attrs[n.SERVER_ADDRESS] = address
    if port is None:
        port = 443 if attrs[n.URL_SCHEME] == "https" else 80
    attrs[n.SERVER_PORT] = port
    peer = environ.get("REMOTE_ADDR")
    client = None
    forwarded = environ.get("HTTP_FORWARDED")
    if forwarded:
        client = _forwarded_client(str(forwarded))
    if client is None and environ.get("HTTP_X_FORWARDED_FOR"):
        client = _first_forwarded_for(str(environ["HTTP_X_FORWARDED_FOR"]))
    if client is None and peer:
        client = str(peer)
    if client:
        attrs[n.CLIENT_ADDRESS] = client
    if peer:
        attrs[n.NETWORK_PEER_ADDRESS] = str(peer)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            attrs[n.NETWORK_PEER_PORT] = int(environ["REMOTE_PORT"])
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        attrs[n.USER_AGENT_ORIGINAL] = str(agent)
    version = protocol_version(str(environ.get("SERVER_PROTOCOL", "")))
    if version:
        attrs[n.NETWORK_PROTOCOL_VERSION] = version
    return attrs


def server_attributes_from_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """Every HTTP server attribute an ASGI ``http``/``websocket`` scope gives."""
    method_original = str(scope.get("method", "GET"))
    method = normalize_method(method_original)
    scheme = str(scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http"))
    raw_path = scope.get("raw_path")
    path = str(scope.get("root_path", "")) + str(scope.get("path", ""))
    if not path and isinstance(raw_path, bytes):
        path = raw_path.decode("latin-1")
    attrs: dict[str, Any] = {
        n.HTTP_REQUEST_METHOD: method,
        n.URL_SCHEME: scheme,
        n.URL_PATH: path or "/",
    }
    if method == OTHER_METHOD:
        attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
    query = scope.get("query_string")
    if query:
        text = query.decode("latin-1") if isinstance(query, (bytes, bytearray)) else str(query)
        attrs[n.URL_QUERY] = redact_query(text)
    host = agent = forwarded = xff = None
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value
        elif name == b"user-agent":
            agent = value
        elif name == b"forwarded":
            forwarded = value
        elif name == b"x-forwarded-for":
            xff = value
    address: str | None = None
    port: int | None = None
    if host:
        address, port = split_host_port(host.decode("latin-1"))
    else:
        server = scope.get("server")
        if server:
            address = str(server[0])
            port = int(server[1]) if len(server) > 1 and server[1] else None
    if address:
        attrs[n.SERVER_ADDRESS] = address
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    attrs[n.SERVER_PORT] = port
    client_pair = scope.get("client")
    client = None
    if forwarded:
        client = _forwarded_client(forwarded.decode("latin-1"))
    if client is None and xff:
        client = _first_forwarded_for(xff.decode("latin-1"))
    if client_pair:
        attrs[n.NETWORK_PEER_ADDRESS] = str(client_pair[0])
        if len(client_pair) > 1 and client_pair[1]:
            attrs[n.NETWORK_PEER_PORT] = int(client_pair[1])
        if client is None:
            client = str(client_pair[0])
    if client:
        attrs[n.CLIENT_ADDRESS] = client
    if agent:
        attrs[n.USER_AGENT_ORIGINAL] = agent.decode("latin-1")
    version = scope.get("http_version")
    if version:
        attrs[n.NETWORK_PROTOCOL_VERSION] = str(version)
    return attrs
