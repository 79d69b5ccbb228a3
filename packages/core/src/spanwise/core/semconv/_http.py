"""HTTP semantic-convention helpers, each written once for every HTTP plugin."""

from __future__ import annotations

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
    "environ_extra_attributes",
    "error_type",
    "known_methods",
    "normalize_method",
    "protocol_version",
    "redact_query",
    "redact_url",
    "scope_extra_attributes",
    "scope_path",
    "scope_scheme",
    "sensitive_query_keys",
    "server_attributes_from_environ",
    "server_attributes_from_scope",
    "server_span_name",
    "server_status",
    "split_host_port",
    "wsgi_headers",
    "wsgi_path",
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


def known_methods() -> frozenset[str]:
    """The known methods now: ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` or the standard set."""
    return _known_methods(os.environ.get("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"))


def normalize_method(method: str, known: frozenset[str] | None = None) -> str:
    """The method as the conventions want it: known methods as-is, anything else ``_OTHER``.

    ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` replaces the known set; a tracer resolves it
    once (``known=``) instead of reading the environment per request.
    """
    if known is None:
        known = known_methods()
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


def sensitive_query_keys() -> frozenset[str]:
    """The query keys redacted now: the standard ones plus ``SPANWISE_URL_REDACT_QUERY_KEYS``."""
    return _sensitive_keys(os.environ.get("SPANWISE_URL_REDACT_QUERY_KEYS"))


def redact_query(query: str, keys: frozenset[str] | None = None) -> str:
    """Replace the values of sensitive query keys by ``REDACTED``; everything else is kept.

    Extra keys come from ``SPANWISE_URL_REDACT_QUERY_KEYS`` (comma-separated); a tracer
    resolves them once (``keys=``) instead of reading the environment per request.
    """
    if not query or "=" not in query:
        return query
    if keys is None:
        keys = sensitive_query_keys()
    parts = query.split("&")
    redacted = False
    for i, part in enumerate(parts):
        key, sep, _ = part.partition("=")
        if sep and key.lower() in keys:
            parts[i] = f"{key}={REDACTED}"
            redacted = True
    return "&".join(parts) if redacted else query


def redact_url(url: str, keys: frozenset[str] | None = None) -> str:
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
    return f"{url[: q + 1]}{redact_query(query, keys)}{tail}"


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


def wsgi_path(environ: Mapping[str, Any]) -> str:
    """``SCRIPT_NAME`` + ``PATH_INFO`` as the text the client sent (``/`` if empty)."""
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    if path.isascii():
        return path or "/"
    try:
        # WSGI hands the path as latin-1-decoded bytes; recover the original text.
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path


def scope_scheme(scope: Mapping[str, Any]) -> str:
    """The URL scheme of an ASGI scope (``ws`` for a websocket scope that names none)."""
    return str(scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http"))


def scope_path(scope: Mapping[str, Any]) -> str:
    """``root_path`` + ``path`` of an ASGI scope; ``raw_path`` if both are empty, else ``/``."""
    path = str(scope.get("root_path", "")) + str(scope.get("path", ""))
    if not path:
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes):
            path = raw_path.decode("latin-1")
    return path or "/"


def server_attributes_from_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """Every HTTP server attribute a WSGI environ gives (not the route or status)."""
    method_original = str(environ.get("REQUEST_METHOD", ""))
    method = normalize_method(method_original)
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    attrs: dict[str, Any] = {
        n.HTTP_REQUEST_METHOD: method,
        n.URL_SCHEME: scheme,
        n.URL_PATH: wsgi_path(environ),
    }
    attrs.update(
        environ_extra_attributes(environ, method_original, method, scheme, sensitive_query_keys())
    )
    return attrs


def environ_extra_attributes(
    environ: Mapping[str, Any],
    method_original: str,
    method: str,
    scheme: str,
    keys: frozenset[str],
) -> dict[str, Any]:
    """The server attributes of a WSGI environ beyond method, scheme and path (those a
    tracer gives at span start), computed only for a recording span."""
    attrs: dict[str, Any] = {}
    if method == OTHER_METHOD:
        attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
    get = environ.get
    query = get("QUERY_STRING")
    if query:
        attrs[n.URL_QUERY] = redact_query(query if type(query) is str else str(query), keys)
    host = get("HTTP_HOST")
    if host:
        address, port = _host_port(host if type(host) is str else str(host))
    else:
        address = str(get("SERVER_NAME", "")) or None  # type: ignore[assignment]
        try:
            port = int(get("SERVER_PORT", 0)) or None
        except (TypeError, ValueError):
            port = None
    if address:
        attrs[n.SERVER_ADDRESS] = address
    if port is None:
        port = 443 if scheme == "https" else 80
    attrs[n.SERVER_PORT] = port
    peer = get("REMOTE_ADDR")
    client = None
    forwarded = get("HTTP_FORWARDED")
    if forwarded:
        client = _forwarded_client(str(forwarded))
    if client is None:
        xff = get("HTTP_X_FORWARDED_FOR")
        if xff:
            client = _first_forwarded_for(str(xff))
    if peer:
        if type(peer) is not str:
            peer = str(peer)
        if client is None:
            client = peer
        if client:
            attrs[n.CLIENT_ADDRESS] = client
        attrs[n.NETWORK_PEER_ADDRESS] = peer
        # A plain try (not contextlib.suppress, which builds a context manager per call).
        try:  # noqa: SIM105
            attrs[n.NETWORK_PEER_PORT] = int(environ["REMOTE_PORT"])
        except (KeyError, TypeError, ValueError):
            pass
    elif client:
        attrs[n.CLIENT_ADDRESS] = client
    agent = get("HTTP_USER_AGENT")
    if agent:
        attrs[n.USER_AGENT_ORIGINAL] = agent if type(agent) is str else str(agent)
    raw = get("SERVER_PROTOCOL", "")
    version = _PROTOCOL_VERSIONS.get(raw) if type(raw) is str else None
    if version is None:
        version = protocol_version(str(raw))
    if version:
        attrs[n.NETWORK_PROTOCOL_VERSION] = version
    return attrs


#: ``SERVER_PROTOCOL`` values servers send, with :func:`protocol_version` of each.
_PROTOCOL_VERSIONS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/2.0": "2.0"}

_HOSTS: dict[str, tuple[str, int | None]] = {}
_MAX_HOSTS = 256


def _host_port(value: str) -> tuple[str, int | None]:
    """:func:`split_host_port`, remembered for the few ``Host`` values a server sees (at most
    ``_MAX_HOSTS``; others are split each time)."""
    found = _HOSTS.get(value)
    if found is None:
        found = split_host_port(value)
        if len(_HOSTS) < _MAX_HOSTS:
            _HOSTS[value] = found
    return found


def server_attributes_from_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """Every HTTP server attribute an ASGI ``http``/``websocket`` scope gives."""
    method_original = str(scope.get("method", "GET"))
    method = normalize_method(method_original)
    scheme = scope_scheme(scope)
    attrs: dict[str, Any] = {
        n.HTTP_REQUEST_METHOD: method,
        n.URL_SCHEME: scheme,
        n.URL_PATH: scope_path(scope),
    }
    attrs.update(
        scope_extra_attributes(scope, method_original, method, scheme, sensitive_query_keys())
    )
    return attrs


def scope_extra_attributes(
    scope: Mapping[str, Any],
    method_original: str,
    method: str,
    scheme: str,
    keys: frozenset[str],
) -> dict[str, Any]:
    """The server attributes of an ASGI scope beyond method, scheme and path (those a tracer
    gives at span start), computed only for a recording span."""
    attrs: dict[str, Any] = {}
    if method == OTHER_METHOD:
        attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
    query = scope.get("query_string")
    if query:
        text = query.decode("latin-1") if isinstance(query, (bytes, bytearray)) else str(query)
        attrs[n.URL_QUERY] = redact_query(text, keys)
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
