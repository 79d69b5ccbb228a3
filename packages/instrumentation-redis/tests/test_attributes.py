"""What clients, pipelines and errors tell us, read without touching the network."""

from __future__ import annotations

import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from spanwise.instrumentation.redis._attributes import (
    connection_info,
    error_message,
    is_transaction,
    pipeline_commands,
    response_status_code,
)


class TestConnectionInfo:
    def test_tcp_client(self) -> None:
        """Namespace is the db index; server address and port come from the pool."""
        client = redis.Redis(host="127.0.0.1", port=7001, db=3)
        assert ("3", "127.0.0.1", 7001) == connection_info(client)

    def test_asyncio_client(self) -> None:
        """The asyncio client's pool is read the same way."""
        client = redis.asyncio.Redis(host="cache.internal", port=6380)
        assert ("0", "cache.internal", 6380) == connection_info(client)

    def test_unix_socket(self) -> None:
        """A unix-socket client names the socket path and no port."""
        client = redis.Redis(unix_socket_path="/run/redis.sock", db=1)
        assert ("1", "/run/redis.sock", None) == connection_info(client)

    def test_pipeline(self) -> None:
        """A pipeline shares its client's pool."""
        pipe = redis.Redis(host="h", port=1, db=2).pipeline()
        assert ("2", "h", 1) == connection_info(pipe)

    def test_no_pool(self) -> None:
        """Objects without a pool (cluster clients) get namespace 0 and no server."""
        assert ("0", None, None) == connection_info(object())


class TestPipelineCommands:
    def test_queued_commands(self) -> None:
        """The argument tuples of the queued commands, in order."""
        pipe = redis.Redis().pipeline()
        pipe.set("a", "1").get("a")
        assert [("SET", "a", "1"), ("GET", "a")] == pipeline_commands(pipe)

    def test_asyncio_pipeline(self) -> None:
        """The asyncio pipeline's stack is read the same way."""
        pipe = redis.asyncio.Redis().pipeline()
        pipe.delete("a")
        assert [("DEL", "a")] == pipeline_commands(pipe)

    def test_empty(self) -> None:
        """An empty pipeline has no commands."""
        assert [] == pipeline_commands(redis.Redis().pipeline())


class TestIsTransaction:
    def test_default_pipeline_is_transaction(self) -> None:
        """redis-py pipelines are MULTI/EXEC transactions by default."""
        assert is_transaction(redis.Redis().pipeline())

    def test_plain_pipeline(self) -> None:
        """transaction=False is a plain pipeline."""
        assert not is_transaction(redis.Redis().pipeline(transaction=False))

    def test_explicit_multi(self) -> None:
        """multi() on a plain pipeline makes it a transaction."""
        pipe = redis.Redis().pipeline(transaction=False)
        pipe.multi()
        assert is_transaction(pipe)

    def test_asyncio(self) -> None:
        """The asyncio pipeline's flag is read too."""
        client = redis.asyncio.Redis()
        actual = [is_transaction(client.pipeline()), is_transaction(client.pipeline(False))]
        assert [True, False] == actual


class TestErrorMessage:
    def test_pipeline_annotation_drops_values(self) -> None:
        """redis-py's pipeline annotation loses the command text (values) but keeps the rest."""
        exc = ResponseError(
            "Command # 2 (SET user:1 hunter2) of pipeline caused error: WRONGTYPE Operation"
        )
        assert "Command # 2 of pipeline caused error: WRONGTYPE Operation" == error_message(exc)

    def test_plain_message_unchanged(self) -> None:
        """Other messages are kept as they are."""
        assert "Connection refused" == error_message(RedisConnectionError("Connection refused"))

    def test_bounded(self) -> None:
        """A huge message is cut."""
        assert 1024 == len(error_message(ResponseError("x" * 100_000)))


class TestResponseStatusCode:
    def test_code_from_message(self) -> None:
        """The first word of a reply error is its code."""
        assert "WRONGTYPE" == response_status_code(ResponseError("WRONGTYPE Operation"))

    def test_code_after_pipeline_annotation(self) -> None:
        """The code is found after redis-py's pipeline annotation."""
        exc = ResponseError("Command # 1 (GET k) of pipeline caused error: BUSYKEY Target")
        assert "BUSYKEY" == response_status_code(exc)

    def test_stripped_err(self) -> None:
        """redis-py strips ERR from generic errors: a plain ResponseError is ERR."""
        assert "ERR" == response_status_code(ResponseError("unknown command 'FOO'"))

    def test_code_from_class(self) -> None:
        """Errors redis-py maps to their own class get that class's code."""
        assert "NOSCRIPT" == response_status_code(NoScriptError("No matching script."))

    def test_not_a_reply_error(self) -> None:
        """Connection errors have no server code."""
        assert None is response_status_code(RedisConnectionError("Connection refused"))
