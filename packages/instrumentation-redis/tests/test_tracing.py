"""The command and pipeline steps, and how errors are recorded on an operation."""

from __future__ import annotations

import weakref
from typing import Any

import pytest
import redis
from opentelemetry import metrics, trace
from opentelemetry.trace import StatusCode

from spanwise.core import DbClientTracer, Guard, Options, Patcher
from spanwise.core.context import suppress
from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.redis._tracing import RedisSteps, record_error

SECRET = "hunter2-value"


def make_db() -> DbClientTracer:
    return DbClientTracer(
        trace.get_tracer("test"),
        metrics.get_meter("test"),
        Options("redis"),
        Guard("redis"),
        "redis",
    )


def pipeline_error(client: redis.Redis) -> redis.ResponseError:
    """A real pipeline error from the server, whose message carries the command's values."""
    client.set("rt:s", "v")
    pipe = client.pipeline(transaction=False)
    pipe.lpush("rt:s", SECRET)
    with pytest.raises(redis.ResponseError) as info:
        pipe.execute()
    return info.value


class TestRecordError:
    def test_values_left_out_of_event_and_status(
        self, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Message, stack trace and status description are written without the values."""
        exc = pipeline_error(client)
        assert SECRET in str(exc)
        op = make_db().start("PIPELINE")
        record_error(op, exc)
        op.end()
        span = telemetry.span("PIPELINE")
        event = dict(span.events[0].attributes or {})
        expected = "Command # 1 of pipeline caused error: WRONGTYPE"
        assert expected == str(event["exception.message"])[: len(expected)]
        assert str(event["exception.stacktrace"]).startswith("Traceback (most recent call last):")
        assert SECRET not in repr(event) + str(span.status.description)

    def test_error_type_and_code(self, client: redis.Redis, telemetry: CapturedTelemetry) -> None:
        """error.type is the class name; db.response.status_code the server's code."""
        op = make_db().start("PIPELINE")
        record_error(op, pipeline_error(client))
        op.end()
        span = telemetry.span("PIPELINE")
        actual = (
            span.status.status_code,
            span.attributes["error.type"],  # type: ignore[index]
            span.attributes["db.response.status_code"],  # type: ignore[index]
        )
        assert (StatusCode.ERROR, "redis.exceptions.ResponseError", "WRONGTYPE") == actual

    def test_unsampled_still_measured(self, telemetry: CapturedTelemetry) -> None:
        """Unsampled, the error still reaches the duration metric's error.type."""
        telemetry.metrics()
        telemetry.sample(False)
        op = make_db().start("GET")
        record_error(op, redis.ConnectionError("refused"))
        op.end()
        (point,) = telemetry.metrics()["db.client.operation.duration"]
        assert "redis.exceptions.ConnectionError" == point.attributes["error.type"]


class TestRedisSteps:
    def wrap(self, steps: RedisSteps, client: redis.Redis) -> Any:
        """The client's execute_command wrapped per instance with the command step."""
        patcher = Patcher(Guard("redis"))
        patcher.wrap_object(client, "execute_command", patcher.hooks_sync("t", steps.command))
        return patcher

    def test_command(self, client: redis.Redis, telemetry: CapturedTelemetry) -> None:
        """The command step makes one span and passes the result through."""
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"))
        patcher = self.wrap(steps, client)
        try:
            client.set("st:1", "v")
            assert b"v" == client.get("st:1")
        finally:
            patcher.restore()
        assert ["SET", "GET"] == [s.name for s in telemetry.spans()]

    def test_suppressed_commands_and_pipelines_pass_through(
        self, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Inside suppress() (as an exporter's own work runs) no span, and the results are
        the server's; after it, traced again."""
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"))
        patcher = self.wrap(steps, client)
        pipe = client.pipeline(transaction=False)
        patcher.wrap_object(pipe, "execute", patcher.hooks_sync("p", steps.pipeline))
        try:
            with suppress():
                client.set("st:q", "v")
                quiet = client.get("st:q")
                pipe.get("st:q")
                piped = pipe.execute()
            client.get("st:q")
        finally:
            patcher.restore()
        assert (b"v", [b"v"], ["GET"]) == (quiet, piped, [s.name for s in telemetry.spans()])

    def test_skips_marked_instances(
        self, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Instances in `skip` (traced by their own wrappers) are passed through."""
        skip: weakref.WeakSet[Any] = weakref.WeakSet([client])
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"), skip)
        patcher = self.wrap(steps, client)
        try:
            assert None is client.get("st:none")
        finally:
            patcher.restore()
        assert [] == telemetry.spans()

    def test_skip_set_read_live(self, client: redis.Redis, telemetry: CapturedTelemetry) -> None:
        """A client marked after the steps were made is skipped; unmarked, traced again."""
        skip: weakref.WeakSet[Any] = weakref.WeakSet()
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"), skip)
        patcher = self.wrap(steps, client)
        try:
            client.get("st:a")
            skip.add(client)
            client.get("st:b")
            skip.discard(client)
            client.get("st:c")
        finally:
            patcher.restore()
        assert ["GET st:a", "GET st:c"] == [
            (s.attributes or {}).get("db.query.text") for s in telemetry.spans()
        ]

    def test_unsampled_no_span_no_query_text(
        self, client: redis.Redis, telemetry: CapturedTelemetry
    ) -> None:
        """Unsampled, no span is exported and the request hook is not called."""
        calls: list[Any] = []
        options = Options("redis", request_hook=lambda *a: calls.append(a))
        steps = RedisSteps(make_db(), options, Guard("redis"))
        patcher = self.wrap(steps, client)
        telemetry.sample(False)
        try:
            client.get("st:u")
        finally:
            patcher.restore()
        assert ([], []) == (telemetry.spans(), calls)

    def test_no_arguments(self, client: redis.Redis, telemetry: CapturedTelemetry) -> None:
        """execute_command() without arguments fails as redis-py fails, without a span."""
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"))
        patcher = self.wrap(steps, client)
        try:
            with pytest.raises(IndexError):
                client.execute_command()
        finally:
            patcher.restore()
        assert [] == telemetry.spans()

    def test_hostile_arguments(self, client: redis.Redis, telemetry: CapturedTelemetry) -> None:
        """Non-UTF-8 keys and huge arguments are sent unchanged and recorded bounded."""
        steps = RedisSteps(make_db(), Options("redis"), Guard("redis"))
        patcher = self.wrap(steps, client)
        key = b"\xff\xfe" + b"k" * 10_000
        try:
            client.set(key, b"\x00" * 100_000)
            assert b"\x00" * 100_000 == client.get(key)
        finally:
            patcher.restore()
        text = str(telemetry.span("GET").attributes["db.query.text"])  # type: ignore[index]
        assert ("GET \ufffd\ufffdkkk", 4 + 128) == (text[:9], len(text))
