"""The response iterable handed back to the server: the span ends when the server closes it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spanwise.core import Guard, ServerRequest
from spanwise.core.context import attach, reset, with_span

__all__ = ["ClosingBody"]


class ClosingBody:
    """Wraps the WSGI response iterable; iterates it unchanged and keeps ``close()`` semantics.

    The server calls :meth:`close` once it has sent the last byte (PEP 3333), so a streamed
    response is timed to its end. The request's span is current while each chunk is produced,
    so spans a streaming generator starts are its children. An exception raised while
    streaming is recorded on the span and re-raised unchanged.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_body", "_guard", "_request")

    def __init__(self, body: Iterable[bytes], request: ServerRequest, guard: Guard) -> None:
        self._body = body
        self._request = request
        self._guard = guard

    def __iter__(self) -> Iterator[bytes]:
        request = self._request
        # The context the request attached (made once), or one like it.
        ctx = request.context or with_span(request.span)
        iterator = iter(self._body)
        while True:
            token = attach(ctx)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except BaseException as exc:
                try:
                    request.record_exception(exc)
                except Exception as own:  # noqa: BLE001
                    self._guard.report("flask.body", own)
                raise
            finally:
                try:
                    reset(token)
                except Exception as own:  # noqa: BLE001 - never instead of the app's outcome
                    self._guard.report("flask.detach", own)
            yield chunk

    def close(self) -> None:
        """Close the application's iterable (if it can be closed), then end the span."""
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            try:
                self._request.end()
            except Exception as exc:  # noqa: BLE001
                self._guard.report("flask.end", exc)
