"""What a redis-py client, pipeline or error tells us, read without touching the network."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "connection_info",
    "error_message",
    "is_transaction",
    "pipeline_commands",
    "response_status_code",
]

# redis-py prefixes a failed pipeline command's error with the command and its VALUES:
# "Command # 1 (SET k secret) of pipeline caused error: ...". We keep the number, drop the rest.
_ANNOTATION = re.compile(r"^Command # (\d+) \(.*\) of pipeline caused error: ", re.DOTALL)
_CODE = re.compile(r"[A-Z][A-Z_]{1,31}")
# redis-py strips these codes from the message and raises a dedicated class instead.
_CODES_BY_CLASS = {
    "NoScriptError": "NOSCRIPT",
    "ExecAbortError": "EXECABORT",
    "BusyLoadingError": "LOADING",
    "ReadOnlyError": "READONLY",
    "NoPermissionError": "NOPERM",
    "ResponseError": "ERR",
}
_MAX_MESSAGE = 1024


def connection_info(client: Any) -> tuple[str, str | None, int | None]:
    """``(db.namespace, server.address, server.port)`` from the client's connection pool.

    Cluster clients have no pool of their own (a command's node is chosen inside redis-py):
    their namespace is ``"0"``, the only database a cluster has, and no server is named.
    """
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return "0", None, None
    host = kwargs.get("host")
    if host is None:
        path = kwargs.get("path")  # unix domain socket
        return str(kwargs.get("db", 0)), (path if isinstance(path, str) else None), None
    port = kwargs.get("port")
    return str(kwargs.get("db", 0)), str(host), (port if isinstance(port, int) else None)


def pipeline_commands(pipe: Any) -> list[tuple[Any, ...]]:
    """The argument tuples of the commands queued on *pipe* (any redis-py pipeline class)."""
    strategy = getattr(pipe, "_execution_strategy", None)
    if strategy is not None:  # cluster pipelines, redis-py >= 6
        queue = getattr(strategy, "_command_queue", None)
        if queue is None:
            queue = getattr(strategy, "command_queue", None)
    else:
        queue = getattr(pipe, "command_stack", None)
        if queue is None:
            queue = getattr(pipe, "_command_stack", None)  # asyncio cluster, redis-py < 6
    if not queue:
        return []
    out: list[tuple[Any, ...]] = []
    for item in queue:
        args = item[0] if isinstance(item, tuple) else getattr(item, "args", None)
        out.append(tuple(args) if args else ())
    return out


def is_transaction(pipe: Any) -> bool:
    """Whether *pipe* runs its commands in ``MULTI``/``EXEC``."""
    for attribute in ("explicit_transaction", "is_transaction", "transaction", "_transaction"):
        if getattr(pipe, attribute, None) is True:
            return True
    strategy = getattr(pipe, "_execution_strategy", None)
    return strategy is not None and type(strategy).__name__ == "TransactionStrategy"


def error_message(exc: BaseException) -> str:
    """The exception's message without the values redis-py puts into pipeline errors."""
    message = str(exc)[: _MAX_MESSAGE * 4]
    return _ANNOTATION.sub(r"Command # \1 of pipeline caused error: ", message)[:_MAX_MESSAGE]


def response_status_code(exc: BaseException) -> str | None:
    """The server's error code (``WRONGTYPE``, ``ERR``, ``NOSCRIPT``) for a reply error."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    if "ResponseError" not in names:
        return None
    message = error_message(exc)
    if message.startswith("Command # "):
        message = message.split("caused error: ", 1)[-1]
    first = message.split(" ", 1)[0]
    if _CODE.fullmatch(first):
        return first
    for name in names:
        code = _CODES_BY_CLASS.get(name)
        if code is not None:
            return code
    return None
