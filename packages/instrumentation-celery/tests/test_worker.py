"""Worker side: a CONSUMER span per execution, driven by the task signals."""

from __future__ import annotations

import itertools

import pytest
from celery import chain, chord, group
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

TIMEOUT = 20


class TestTaskTracer:
    """Executing a task in a real worker."""

    def test_delay_and_execution_form_one_trace(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """The worker's span is a child of the producer's span, in the caller's trace."""
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("caller"):
            result = celery_app.tasks["tests.add"].delay(2, 3)
        assert 5 == result.get(timeout=TIMEOUT)
        process = finished("process tests.add")[0]
        send = telemetry.span("send tests.add")
        caller = telemetry.span("caller")
        assert (SpanKind.PRODUCER, SpanKind.CONSUMER) == (send.kind, process.kind)
        assert caller.context.span_id == send.parent.span_id
        assert send.context.span_id == process.parent.span_id
        assert caller.context.trace_id == process.context.trace_id

    def test_consumer_span_attributes(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """The CONSUMER span names the system, queue, task id, task and retry count."""
        result = celery_app.tasks["tests.add"].apply_async((1, 1))
        result.get(timeout=TIMEOUT)
        process = finished("process tests.add")[0]
        expected = {
            "messaging.system": "celery",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": celery_app.conf.task_default_queue,
            "messaging.message.id": result.id,
            "celery.task.name": "tests.add",
            "celery.task.retries": 0,
        }
        assert expected == dict(process.attributes)
        assert StatusCode.UNSET == process.status.status_code

    def test_work_inside_the_task_belongs_to_the_trace(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """What the task does (here: publish another task) is a child of its CONSUMER span."""
        result = chain(
            celery_app.signature("tests.add", (1, 2)), celery_app.signature("tests.add", (10,))
        )()
        assert 13 == result.get(timeout=TIMEOUT)
        first, second = sorted(finished("process tests.add", 2), key=lambda s: s.start_time)
        sends = sorted(telemetry.spans(), key=lambda s: s.start_time)
        sends = [s for s in sends if s.name == "send tests.add"]
        assert 2 == len(sends)
        assert first.context.span_id == sends[1].parent.span_id
        assert sends[1].context.span_id == second.parent.span_id
        assert {first.context.trace_id} == {s.context.trace_id for s in (second, *sends)}

    def test_failure_records_exception_and_error(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """A task that raises: exception event, ERROR status, ``error.type``; the caller sees the error."""
        result = celery_app.tasks["tests.boom"].delay()
        with pytest.raises(ValueError, match="boom"):
            result.get(timeout=TIMEOUT)
        process = finished("process tests.boom")[0]
        assert StatusCode.ERROR == process.status.status_code
        assert "ValueError" == process.attributes["error.type"]
        assert ["exception"] == [e.name for e in process.events]
        assert "ValueError" == process.events[0].attributes["exception.type"]

    def test_retry_starts_a_new_span_linked_to_the_previous_attempt(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """Each retry runs in a new CONSUMER span that links to the attempt that retried."""
        assert 2 == celery_app.tasks["tests.flaky"].delay(2).get(timeout=TIMEOUT)
        attempts = sorted(finished("process tests.flaky", 3), key=lambda s: s.start_time)
        assert [0, 1, 2] == [s.attributes["celery.task.retries"] for s in attempts]
        assert [] == list(attempts[0].links)
        for previous, attempt in itertools.pairwise(attempts):
            assert [previous.context.span_id] == [link.context.span_id for link in attempt.links]
            assert previous.context.trace_id == attempt.context.trace_id
        assert ["exception"] == [e.name for e in attempts[0].events]

    def test_per_task_link_starts_a_new_trace_linked_to_the_producer(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """``spanwise_link=True`` on a task: a new trace, linked to the PRODUCER span."""
        assert "linked" == celery_app.tasks["tests.linked"].delay().get(timeout=TIMEOUT)
        process = finished("process tests.linked")[0]
        send = telemetry.span("send tests.linked")
        assert process.parent is None
        assert send.context.trace_id != process.context.trace_id
        assert [send.context.span_id] == [link.context.span_id for link in process.links]


class TestCanvas:
    """Chains, groups and chords keep the trace."""

    def test_group_members_share_the_callers_trace(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """Every task of a group is published under the caller and runs under its PRODUCER span."""
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("caller") as caller:
            result = group(celery_app.signature("tests.add", (i, i)) for i in range(3))()
        assert [0, 2, 4] == result.get(timeout=TIMEOUT)
        processes = finished("process tests.add", 3)
        sends = {s.context.span_id: s for s in telemetry.spans() if s.name == "send tests.add"}
        trace_id = caller.get_span_context().trace_id
        assert {trace_id} == {s.context.trace_id for s in processes}
        assert all(p.parent.span_id in sends for p in processes)

    def test_chord_body_runs_in_the_same_trace(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """A chord's body is published by the last header task, inside its CONSUMER span."""
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("caller") as caller:
            result = chord(celery_app.signature("tests.add", (i, 1)) for i in range(3))(
                celery_app.signature("tests.tsum")
            )
        assert 6 == result.get(timeout=TIMEOUT)
        body = finished("process tests.tsum")[0]
        headers = {s.context.span_id for s in finished("process tests.add", 3)}
        body_send = telemetry.span("send tests.tsum")
        assert caller.get_span_context().trace_id == body.context.trace_id
        assert body_send.context.span_id == body.parent.span_id
        assert body_send.parent.span_id in headers

    def test_eager_apply_is_a_child_of_the_current_span(self, celery_app, instrumented, telemetry):
        """``Task.apply`` (eager, no broker): a CONSUMER span under the caller, no PRODUCER."""
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            assert 3 == celery_app.tasks["tests.add"].apply((1, 2)).get()
        process = telemetry.span("process tests.add")
        assert caller.get_span_context().span_id == process.parent.span_id
        assert ["caller", "process tests.add"] == sorted(s.name for s in telemetry.spans())

    def test_hostile_headers_reach_the_task_unchanged(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """Garbage trace headers (malformed, megabyte-long, odd text) never break the task:
        it runs, sees them as sent, and its span starts a fresh trace."""
        hostile = {
            "traceparent": "00-zzzz-not-a-trace-id-01",
            "tracestate": "k=" + "v" * 1_000_000,
            "baggage": "\udcff\x00=;;,,=",
        }
        message = celery_app.amqp.create_task_message(
            "hostile-1", "tests.headers", tuple(hostile), {}
        )
        message.headers.update(hostile)
        with celery_app.producer_or_acquire() as producer:
            celery_app.amqp.send_task_message(producer, "tests.headers", message)
        got = celery_app.AsyncResult("hostile-1").get(timeout=TIMEOUT)
        process = finished("process tests.headers")[0]
        assert hostile == got
        assert process.parent is None
        assert [] == list(process.links)
        assert StatusCode.UNSET == process.status.status_code

    def test_hostile_baggage_does_not_cost_a_valid_parent(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """A valid ``traceparent`` next to undecodable baggage still makes the span a child."""
        parent = f"00-{0xABC:032x}-{0xDEF:016x}-01"
        message = celery_app.amqp.create_task_message("hostile-2", "tests.add", (1, 1), {})
        message.headers.update({"traceparent": parent, "baggage": "k=\udcff"})
        with celery_app.producer_or_acquire() as producer:
            celery_app.amqp.send_task_message(producer, "tests.add", message)
        assert 2 == celery_app.AsyncResult("hostile-2").get(timeout=TIMEOUT)
        process = finished("process tests.add")[0]
        assert (0xABC, 0xDEF) == (process.context.trace_id, process.parent.span_id)
