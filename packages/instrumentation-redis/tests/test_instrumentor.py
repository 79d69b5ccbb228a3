"""RedisInstrumentor against a real redis-server: every client, one client, and a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.cluster
import redis.client
import redis.cluster
from opentelemetry.trace import SpanKind, StatusCode

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.redis import RedisInstrumentor

SECRET = "s3cr3t-value-do-not-record"

PATCHED = [
    (redis.client.Redis, "execute_command"),
    (redis.client.Pipeline, "immediate_execute_command"),
    (redis.client.Pipeline, "execute"),
    (redis.cluster.RedisCluster, "execute_command"),
    (redis.cluster.ClusterPipeline, "execute"),
    (redis.asyncio.client.Redis, "execute_command"),
    (redis.asyncio.client.Pipeline, "immediate_execute_command"),
    (redis.asyncio.client.Pipeline, "execute"),
    (redis.asyncio.cluster.RedisCluster, "execute_command"),
    (redis.asyncio.cluster.ClusterPipeline, "execute"),
]
ORIGINALS = {(cls, name): cls.__dict__[name] for cls, name in PATCHED}


async def aclose(client: Any) -> None:
    """Close an asyncio client (``aclose`` since redis-py 5, ``close`` before)."""
    close = getattr(client, "aclose", None) or client.close
    await close()


def attrs(telemetry: CapturedTelemetry) -> list[tuple[str, dict[str, Any]]]:
    """(name, attributes) of every finished span."""
    return [(s.name, dict(s.attributes or {})) for s in telemetry.spans()]


def everything_recorded(telemetry: CapturedTelemetry) -> str:
    """Every span name, attribute, status, event and metric attribute, as one string."""
    parts: list[str] = []
    for span in telemetry.spans():
        parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
        parts += [repr(dict(e.attributes or {})) for e in span.events]
    for points in telemetry.metrics().values():
        parts += [repr(dict(p.attributes)) for p in points]
    return "\n".join(parts)


class TestInstrument:
    def test_command_span(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """A client made before instrument() gets one CLIENT span per command, named by it."""
        instrumentor.instrument()
        client.set("user:42", SECRET)
        span = telemetry.span("SET")
        expected = {
            "db.system.name": "redis",
            "db.operation.name": "SET",
            "db.namespace": "0",
            "server.address": client.connection_pool.connection_kwargs["host"],
            "server.port": client.connection_pool.connection_kwargs["port"],
            "db.query.text": "SET user:42 ?",
        }
        assert (SpanKind.CLIENT, expected) == (span.kind, dict(span.attributes or {}))

    def test_result_unchanged(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """The app gets the same results as without instrumentation."""
        client.set("same", "v")
        bare = [client.get("same"), client.incr("same:n"), client.mget("same", "nope")]
        client.delete("same:n")
        instrumentor.instrument()
        assert bare == [client.get("same"), client.incr("same:n"), client.mget("same", "nope")]

    def test_client_after_instrument_and_db_index(
        self, instrumentor: RedisInstrumentor, redis_server: Any, telemetry: CapturedTelemetry
    ) -> None:
        """A client made after instrument() is covered; db.namespace is its db index."""
        instrumentor.instrument()
        with redis.Redis(host=redis_server.host, port=redis_server.port, db=5) as c:
            c.get("k")
        assert "5" == telemetry.span("GET").attributes["db.namespace"]  # type: ignore[index]

    def test_publish(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """PUBLISH keeps the channel and hides the message."""
        instrumentor.instrument()
        client.publish("news", SECRET)
        assert "PUBLISH news ?" == telemetry.span("PUBLISH").attributes["db.query.text"]  # type: ignore[index]

    def test_error(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """A server error reaches the app unchanged and is recorded with its code."""
        client.set("str:1", "v")
        instrumentor.instrument()
        with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
            client.lpush("str:1", SECRET)
        span = telemetry.span("LPUSH")
        actual = (
            span.status.status_code,
            span.attributes["error.type"],  # type: ignore[index]
            span.attributes["db.response.status_code"],  # type: ignore[index]
            span.events[0].name,
        )
        assert (
            StatusCode.ERROR,
            "redis.exceptions.ResponseError",
            "WRONGTYPE",
            "exception",
        ) == actual

    def test_connection_error(
        self, instrumentor: RedisInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """A refused connection is raised unchanged and recorded with error.type."""
        from spanwise.core.testing import free_port

        instrumentor.instrument()
        c = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=None)
        with pytest.raises(redis.ConnectionError):
            c.get("k")
        assert "redis.exceptions.ConnectionError" == telemetry.span("GET").attributes["error.type"]  # type: ignore[index]

    def test_pipeline(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """A plain pipeline is one PIPELINE span with the batch size and scrubbed commands."""
        instrumentor.instrument()
        pipe = client.pipeline(transaction=False)
        pipe.set("p:1", SECRET).get("p:1").hset("p:h", "f", SECRET)
        assert [True, SECRET.encode(), 1] == pipe.execute()
        expected = {
            "db.operation.name": "PIPELINE",
            "db.operation.batch.size": 3,
            "db.query.text": "SET p:1 ?\nGET p:1\nHSET p:h ? ?",
        }
        span_attrs = dict(telemetry.span("PIPELINE").attributes or {})
        assert expected == {k: span_attrs[k] for k in expected}
        assert ["PIPELINE"] == [s.name for s in telemetry.spans()]

    def test_transaction(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """A transaction is one MULTI span; WATCH before it is its own command span."""
        client.set("t:n", 1)
        instrumentor.instrument()
        with client.pipeline() as pipe:
            pipe.watch("t:n")
            pipe.multi()
            pipe.incr("t:n").incr("t:n")
            assert [2, 3] == pipe.execute()
        actual = [
            (n, a.get("db.operation.batch.size"), a.get("db.query.text"))
            for n, a in attrs(telemetry)
        ]
        assert [("WATCH", None, "WATCH t:n"), ("MULTI", 2, "INCRBY t:n ?\nINCRBY t:n ?")] == actual

    def test_pipeline_error_hides_values(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """redis-py puts the failing command's values in its message; we record it without them."""
        client.set("pe:s", "v")
        instrumentor.instrument()
        pipe = client.pipeline(transaction=False)
        pipe.lpush("pe:s", SECRET)
        with pytest.raises(redis.ResponseError, match=SECRET):
            pipe.execute()
        span = telemetry.span("PIPELINE")
        assert "WRONGTYPE" == span.attributes["db.response.status_code"]  # type: ignore[index]
        assert SECRET not in everything_recorded(telemetry)

    def test_empty_pipeline_untraced(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """An empty pipeline sends nothing and makes no span."""
        instrumentor.instrument()
        assert [] == client.pipeline().execute()
        assert [] == telemetry.spans()

    def test_values_never_recorded(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """No value, password or message sent by the app appears in any span, event or metric."""
        instrumentor.instrument()
        client.set("v:1", SECRET)
        client.mset({"v:2": SECRET, "v:3": SECRET})
        client.hset("v:h", mapping={"f": SECRET})
        client.lpush("v:l", SECRET)
        client.publish("v:c", SECRET)
        client.eval("return ARGV[1]", 1, "v:1", SECRET)
        with pytest.raises(redis.RedisError):
            client.execute_command("AUTH", SECRET)
        # The default user has no password: any password is accepted (RESP2 kept).
        client.execute_command("HELLO", 2, "AUTH", "default", SECRET)
        # The eight commands, in order. In the full suite a thread left by another package's
        # tests (kombu's EVALSHA) may add spans of its own: not ours to count, but every span
        # is still searched for the secret below.
        expected = ["SET", "MSET", "HSET", "LPUSH", "PUBLISH", "EVAL", "AUTH", "HELLO"]
        names = [span.name for span in telemetry.spans()]
        assert expected == [name for name in names if name in expected]
        assert SECRET not in everything_recorded(telemetry)

    def test_metrics(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Each command records db.client.operation.duration, even when not sampled."""
        instrumentor.instrument()
        telemetry.metrics()
        telemetry.sample(False)
        client.get("m:1")
        client.get("m:2")
        points = telemetry.metrics()["db.client.operation.duration"]
        expected_attrs = {
            "db.system.name": "redis",
            "db.operation.name": "GET",
            "db.namespace": "0",
            "server.address": client.connection_pool.connection_kwargs["host"],
            "server.port": client.connection_pool.connection_kwargs["port"],
        }
        assert [(2, expected_attrs)] == [(p.count, dict(p.attributes)) for p in points]
        assert [] == telemetry.spans()

    def test_asyncio(
        self, instrumentor: RedisInstrumentor, redis_server: Any, telemetry: CapturedTelemetry
    ) -> None:
        """The asyncio client: commands and pipelines are traced the same way."""
        instrumentor.instrument()

        async def main() -> list[Any]:
            c = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
            try:
                await c.set("a:1", SECRET)
                got = await c.get("a:1")
                async with c.pipeline() as pipe:
                    pipe.incr("a:n").get("a:1")
                    res = await pipe.execute()
                return [got, res[1]]
            finally:
                await aclose(c)

        assert [SECRET.encode()] * 2 == asyncio.run(main())
        actual = [(n, a.get("db.query.text")) for n, a in attrs(telemetry)]
        assert [
            ("SET", "SET a:1 ?"),
            ("GET", "GET a:1"),
            ("MULTI", "INCRBY a:n ?\nGET a:1"),
        ] == actual

    def test_asyncio_error(
        self, instrumentor: RedisInstrumentor, redis_server: Any, telemetry: CapturedTelemetry
    ) -> None:
        """An asyncio command's error reaches the app and is recorded."""
        instrumentor.instrument()

        async def main() -> None:
            c = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
            try:
                await c.execute_command("NOSUCHCOMMAND", "x")
            finally:
                await aclose(c)

        with pytest.raises(redis.ResponseError):
            asyncio.run(main())
        assert "ERR" == telemetry.span("NOSUCHCOMMAND").attributes["db.response.status_code"]  # type: ignore[index]

    def test_query_text_off(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """db_query_text="off" records no db.query.text."""
        instrumentor.instrument(db_query_text="off")
        client.get("off:1")
        assert "db.query.text" not in (telemetry.span("GET").attributes or {})

    def test_hooks(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """request_hook and response_hook see the span, client, arguments and result."""
        seen: list[Any] = []

        def request_hook(span: Any, instance: Any, args: Any, kwargs: Any) -> None:
            seen.append(("request", instance is client, args))
            span.set_attribute("app.tag", "x")

        def response_hook(span: Any, instance: Any, result: Any) -> None:
            seen.append(("response", instance is client, result))

        instrumentor.instrument(request_hook=request_hook, response_hook=response_hook)
        client.set("h:1", "v")
        client.get("h:1")
        expected = [
            ("request", True, ("SET", "h:1", "v")),
            ("response", True, True),
            ("request", True, ("GET", "h:1")),
            ("response", True, b"v"),
        ]
        assert expected == seen
        assert "x" == telemetry.span("GET").attributes["app.tag"]  # type: ignore[index]

    def test_failing_hook_never_breaks_the_app(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """A hook that raises is swallowed; the command and its span complete."""

        def boom(*args: Any) -> None:
            raise RuntimeError("hook bug")

        instrumentor.instrument(request_hook=boom, response_hook=boom)
        client.set("fh:1", "v")
        assert b"v" == client.get("fh:1")
        assert ["SET", "GET"] == [s.name for s in telemetry.spans()]

    def test_uninstrument_restores_originals(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """uninstrument() puts back the exact original methods and stops tracing."""
        instrumentor.instrument()
        patched = [cls.__dict__[name] is not ORIGINALS[cls, name] for cls, name in PATCHED]
        instrumentor.uninstrument()
        client.get("u:1")
        restored = [cls.__dict__[name] is ORIGINALS[cls, name] for cls, name in PATCHED]
        assert ([True] * len(PATCHED), [True] * len(PATCHED), []) == (
            patched,
            restored,
            telemetry.spans(),
        )

    def test_instrument_twice_one_span(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Calling instrument() again does not trace commands twice."""
        instrumentor.instrument()
        instrumentor.instrument()
        client.get("twice")
        assert ["GET"] == [s.name for s in telemetry.spans()]


class TestDisabled:
    def test_kill_switch(
        self,
        instrumentor: RedisInstrumentor,
        client: redis.Redis,
        telemetry: CapturedTelemetry,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=redis turns instrument() and
        instrument_client() into no-ops."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis")
        instrumentor.instrument()
        instrumentor.instrument_client(client)
        client.get("off")
        actual = (
            instrumentor.is_instrumented,
            "execute_command" in vars(client),
            telemetry.spans(),
        )
        assert (False, False, []) == actual


class TestInstrumentClient:
    def test_twice_one_span(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """instrument_client() twice on one client still traces each command once."""
        instrumentor.instrument_client(client)
        instrumentor.instrument_client(client)
        client.get("ic2")
        assert ["GET"] == [s.name for s in telemetry.spans()]

    def test_only_that_client(
        self, instrumentor: RedisInstrumentor, redis_server: Any, telemetry: CapturedTelemetry
    ) -> None:
        """Only the given client is traced, pipelines it makes included."""
        traced = redis.Redis(host=redis_server.host, port=redis_server.port)
        other = redis.Redis(host=redis_server.host, port=redis_server.port)
        instrumentor.instrument_client(traced)
        other.get("ic:other")
        traced.set("ic:1", SECRET)
        traced.pipeline().get("ic:1").execute()
        actual = [(n, a.get("db.query.text")) for n, a in attrs(telemetry)]
        assert [("SET", "SET ic:1 ?"), ("MULTI", "GET ic:1")] == actual

    def test_uninstrument_client(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """uninstrument_client() removes the instance wrappers; even old pipelines pass through."""
        instrumentor.instrument_client(client)
        pipe = client.pipeline()
        instrumentor.uninstrument_client(client)
        client.get("uc:1")
        pipe.get("uc:1").execute()
        assert ([], {}) == (
            telemetry.spans(),
            {k: v for k, v in vars(client).items() if k in ("execute_command", "pipeline")},
        )

    def test_with_instrument_one_span(
        self, instrumentor: RedisInstrumentor, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """instrument() plus instrument_client(), in either order, trace each command once."""
        instrumentor.instrument()
        instrumentor.instrument_client(client)
        client.get("both:1")
        client.pipeline().get("both:1").execute()
        instrumentor.uninstrument()
        client.get("both:2")
        assert ["GET", "MULTI", "GET"] == [s.name for s in telemetry.spans()]

    def test_asyncio_client(
        self, instrumentor: RedisInstrumentor, redis_server: Any, telemetry: CapturedTelemetry
    ) -> None:
        """An asyncio client and its pipelines can be instrumented alone."""

        async def main() -> None:
            c = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
            instrumentor.instrument_client(c)
            try:
                await c.get("aic:1")
                await c.pipeline(transaction=False).get("aic:1").execute()
            finally:
                await aclose(c)

        asyncio.run(main())
        assert ["GET", "PIPELINE"] == [s.name for s in telemetry.spans()]


class TestCluster:
    def test_sync_cluster_transaction(
        self,
        instrumentor: RedisInstrumentor,
        redis_cluster: list[int],
        telemetry: CapturedTelemetry,
    ) -> None:
        """A cluster transaction (keys in one slot) is one MULTI span."""
        if not hasattr(redis.cluster, "TransactionStrategy"):
            pytest.skip("redis-py before 6.1 has no cluster transactions")
        rc = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster[0])
        instrumentor.instrument()
        try:
            pipe = rc.pipeline(transaction=True)
            pipe.set("{tx}:a", SECRET).get("{tx}:a")
            assert SECRET.encode() == pipe.execute()[1]
        finally:
            rc.close()
        actual = [
            (n, a.get("db.operation.batch.size"), a.get("db.query.text"))
            for n, a in attrs(telemetry)
        ]
        assert [("MULTI", 2, "SET {tx}:a ?\nGET {tx}:a")] == actual

    def test_instrument_client_sync_cluster(
        self,
        instrumentor: RedisInstrumentor,
        redis_cluster: list[int],
        telemetry: CapturedTelemetry,
    ) -> None:
        """instrument_client() traces one sync RedisCluster and its pipelines."""
        rc = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster[0])
        instrumentor.instrument_client(rc)
        try:
            rc.get("icc:1")
            rc.pipeline().get("icc:1").execute()
        finally:
            instrumentor.uninstrument_client(rc)
            rc.close()
        assert ["GET", "PIPELINE"] == [s.name for s in telemetry.spans()]

    def test_instrument_client_asyncio_cluster(
        self,
        instrumentor: RedisInstrumentor,
        redis_cluster: list[int],
        telemetry: CapturedTelemetry,
    ) -> None:
        """instrument_client() traces one asyncio RedisCluster and its pipelines."""

        async def main() -> list[Any]:
            rc = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster[0])
            try:
                await rc.initialize()
                instrumentor.instrument_client(rc)
                await rc.set("aicc:1", "v")
                pipe = rc.pipeline()
                pipe.get("aicc:1")
                return await pipe.execute()  # type: ignore[no-any-return]
            finally:
                instrumentor.uninstrument_client(rc)
                await aclose(rc)

        assert [b"v"] == asyncio.run(main())
        assert ["SET", "PIPELINE"] == [s.name for s in telemetry.spans()]

    def test_sync_cluster(
        self,
        instrumentor: RedisInstrumentor,
        redis_cluster: list[int],
        telemetry: CapturedTelemetry,
    ) -> None:
        """RedisCluster commands and cluster pipelines are traced (namespace 0)."""
        rc = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster[0])
        instrumentor.instrument()
        try:
            rc.set("cl:1", SECRET)
            assert SECRET.encode() == rc.get("cl:1")
            pipe = rc.pipeline()
            pipe.set("cl:2", SECRET).get("cl:1")
            assert [True, SECRET.encode()] == pipe.execute()
        finally:
            rc.close()
        actual = [(n, a.get("db.namespace"), a.get("db.query.text")) for n, a in attrs(telemetry)]
        expected = [
            ("SET", "0", "SET cl:1 ?"),
            ("GET", "0", "GET cl:1"),
            ("PIPELINE", "0", "SET cl:2 ?\nGET cl:1"),
        ]
        assert expected == actual
        assert SECRET not in everything_recorded(telemetry)

    def test_asyncio_cluster(
        self,
        instrumentor: RedisInstrumentor,
        redis_cluster: list[int],
        telemetry: CapturedTelemetry,
    ) -> None:
        """The asyncio RedisCluster and its pipelines are traced."""
        instrumentor.instrument()

        async def main() -> list[Any]:
            rc = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster[0])
            try:
                await rc.set("acl:1", "v")
                pipe = rc.pipeline()
                pipe.get("acl:1")
                return await pipe.execute()
            finally:
                await aclose(rc)

        assert [b"v"] == asyncio.run(main())
        names = [s.name for s in telemetry.spans()]
        assert ["SET", "PIPELINE"] == [n for n in names if n in ("SET", "PIPELINE")]
