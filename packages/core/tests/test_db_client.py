"""DbClientTracer's per-shape and per-statement caches: bounded, keyed by all that differs."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import metrics, trace

from spanwise.core import DbClientTracer, Guard, Options, _db_client
from spanwise.core.testing import CapturedTelemetry


def make(system: str = "sqlite", **options: Any) -> DbClientTracer:
    return DbClientTracer(
        trace.get_tracer("test"),
        metrics.get_meter("test"),
        Options.build("test", options),
        Guard("test"),
        system=system,
    )


def point_attrs(telemetry: CapturedTelemetry) -> list[dict[str, Any]]:
    points = telemetry.metrics().get("db.client.operation.duration", [])
    return sorted((dict(p.attributes) for p in points), key=len)


class TestStatementCache:
    def test_keyed_by_connection(self, telemetry: CapturedTelemetry) -> None:
        """The same statement on two databases keeps each one's namespace and server."""
        db = make()
        db.start_sql("SELECT * FROM t", namespace="a", server_address="h1", server_port=1).end()
        db.start_sql("SELECT * FROM t", namespace="b", server_address="h2", server_port=2).end()
        db.start_sql("SELECT * FROM t", namespace="a", system="postgresql").end()
        got = [
            (a.get("db.system.name"), a.get("db.namespace"), a.get("server.address"))
            for a in (dict(s.attributes or {}) for s in telemetry.spans())
        ]
        assert [("sqlite", "a", "h1"), ("sqlite", "b", "h2"), ("postgresql", "a", None)] == got

    def test_batch_size_per_call(self, telemetry: CapturedTelemetry) -> None:
        """A cached statement still records each call's own batch size (before the text, as ever)."""
        db = make()
        for batch in (3, None, 5):
            db.start_sql("INSERT INTO t VALUES (1)", batch_size=batch).end()
        spans = [dict(s.attributes or {}) for s in telemetry.spans()]
        assert [3, None, 5] == [s.get("db.operation.batch.size") for s in spans]
        assert {"INSERT INTO t VALUES (?)"} == {s["db.query.text"] for s in spans}
        assert ["db.operation.batch.size", "db.query.text"] == list(spans[0])[-2:]

    def test_raw_mode_cached(self, telemetry: CapturedTelemetry) -> None:
        """Raw text is the statement itself, from the cache too."""
        db = make(db_query_text="raw")
        for _ in range(2):
            db.start_sql("SELECT 'x' FROM t").end()
        assert ["SELECT 'x' FROM t"] * 2 == [
            (s.attributes or {}).get("db.query.text") for s in telemetry.spans()
        ]

    def test_bounded(self, monkeypatch: pytest.MonkeyPatch, telemetry: CapturedTelemetry) -> None:
        """Past the bound the cache starts over; every statement is still named right."""
        monkeypatch.setattr(_db_client, "_MAX_SHAPES", 4)
        db = make()
        for i in range(10):
            db.start_sql(f"SELECT * FROM t{i}").end()
            assert len(db._statements) <= 4
        assert [f"SELECT t{i}" for i in range(10)] == [s.name for s in telemetry.spans()]

    def test_not_str_not_cached(self, telemetry: CapturedTelemetry) -> None:
        """bytes and str subclasses are analysed every time and never kept."""

        class Sql(str):
            pass

        db = make()
        db.start_sql(b"SELECT * FROM b").end()
        db.start_sql(Sql("SELECT * FROM s")).end()
        assert {} == db._statements
        assert ["SELECT b", "SELECT s"] == [s.name for s in telemetry.spans()]


class TestShapeCache:
    def test_errors_do_not_leak(self, telemetry: CapturedTelemetry) -> None:
        """error.type and the status code go to one operation's metric, not to the shape's."""
        db = make("redis")
        op = db.start("GET", server_address="h", server_port=1)
        op.set_response_status_code("WRONGTYPE")
        op.record_exception(ValueError("x"))
        op.end()
        db.start("GET", server_address="h", server_port=1).end()
        base = {
            "db.system.name": "redis",
            "db.operation.name": "GET",
            "server.address": "h",
            "server.port": 1,
        }
        failed = {**base, "db.response.status_code": "WRONGTYPE", "error.type": "ValueError"}
        assert [base, failed] == point_attrs(telemetry)
        assert ["error.type" in (s.attributes or {}) for s in telemetry.spans()] == [True, False]

    def test_keyed_by_every_part(self, telemetry: CapturedTelemetry) -> None:
        """Operation, collection, summary, namespace and server each make their own shape."""
        db = make("mongodb")
        calls: list[dict[str, Any]] = [
            {"operation": "find", "collection": "a"},
            {"operation": "find", "collection": "b"},
            {"operation": "find", "collection": "a", "summary": "find a x"},
            {"operation": "find", "collection": "a", "namespace": "n"},
            {"operation": "find", "collection": "a", "server_address": "h"},
            {"operation": "find", "collection": "a", "server_address": "h", "server_port": 2},
            {"operation": "find", "collection": "a", "system": "other"},
        ]
        for kwargs in calls:
            db.start(**kwargs).end()
        assert len(calls) == len(db._shapes)
        assert ["find a", "find b", "find a x", "find a", "find a", "find a", "find a"] == [
            s.name for s in telemetry.spans()
        ]

    def test_query_text_per_call(self, telemetry: CapturedTelemetry) -> None:
        """The shape carries no query text: each call's own is recorded, cut to the limit."""
        db = make("redis")
        db.start("GET", query_text="GET a").end()
        db.start("GET", query_text="GET b").end()
        db.start("GET").end()
        assert ["GET a", "GET b", None] == [
            (s.attributes or {}).get("db.query.text") for s in telemetry.spans()
        ]

    def test_bounded(self, monkeypatch: pytest.MonkeyPatch, telemetry: CapturedTelemetry) -> None:
        monkeypatch.setattr(_db_client, "_MAX_SHAPES", 3)
        db = make("redis")
        for i in range(8):
            db.start(f"CMD{i}").end()
            assert len(db._shapes) <= 3
        assert [f"CMD{i}" for i in range(8)] == [s.name for s in telemetry.spans()]

    def test_unsampled_still_measured(self, telemetry: CapturedTelemetry) -> None:
        telemetry.sample(False)
        db = make("redis")
        db.start("GET").end()
        assert [] == telemetry.spans()
        assert [{"db.system.name": "redis", "db.operation.name": "GET"}] == point_attrs(telemetry)


class TestExemplarContext:
    def test_exemplar_links_the_span(self, telemetry: CapturedTelemetry) -> None:
        """A sampled operation's duration point carries an exemplar with its span's ids."""
        db = make("redis")
        op = db.start("GET")
        op.end()
        ctx = op.span.get_span_context()
        (point,) = telemetry.metrics()["db.client.operation.duration"]
        assert [(ctx.trace_id, ctx.span_id)] == [(e.trace_id, e.span_id) for e in point.exemplars]
