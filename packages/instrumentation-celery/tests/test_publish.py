"""Producer side: the send_task step and the before_task_publish receiver."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from spanwise.core.context import suppress
from spanwise.instrumentation.celery import CeleryInstrumentor

TIMEOUT = 20


class TestPublisher:
    """Publishing a task: the PRODUCER span and the headers it writes."""

    def test_producer_span_attributes(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """The PRODUCER span names the system, queue, task id and task."""
        result = celery_app.tasks["tests.add"].apply_async((1, 1))
        result.get(timeout=TIMEOUT)
        send = telemetry.span("send tests.add")
        expected = {
            "messaging.system": "celery",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": celery_app.conf.task_default_queue,
            "messaging.message.id": result.id,
            "celery.task.name": "tests.add",
        }
        assert expected == dict(send.attributes)

    def test_send_task_by_name_is_traced(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """``send_task`` by name gets the same PRODUCER span and propagation."""
        result = celery_app.send_task("tests.add", (4, 4))
        assert 8 == result.get(timeout=TIMEOUT)
        process = finished("process tests.add")[0]
        assert telemetry.span("send tests.add").context.span_id == process.parent.span_id

    def test_publish_failure_is_recorded_and_raised_unchanged(
        self, redis_server, telemetry, instrumented
    ):
        """When the broker is unreachable the PRODUCER span records the error the caller gets."""
        from celery import Celery
        from kombu.exceptions import OperationalError

        from spanwise.core.testing import free_port

        app = Celery(
            "unreachable", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False
        )
        app.conf.update(
            broker_connection_retry=False,
            broker_connection_timeout=1,
            task_publish_retry=False,
            task_ignore_result=True,
        )

        @app.task(name="tests.nowhere")
        def nowhere() -> None:
            return None

        with pytest.raises(OperationalError) as raised:
            nowhere.delay()
        spans = [s for s in telemetry.spans() if s.name == "send tests.nowhere"]
        assert 1 == len(spans)
        assert StatusCode.ERROR == spans[0].status.status_code
        assert raised.type.__qualname__ == spans[0].attributes["error.type"].rsplit(".", 1)[-1]

    def test_app_headers_reach_the_worker_and_trace_context_is_added(
        self, celery_app, celery_worker, instrumented, telemetry, finished
    ):
        """The app's own headers arrive unchanged next to ``traceparent``; a stale
        ``spanwise_retry_of`` copied by the app is dropped, so it is no false retry."""
        result = celery_app.tasks["tests.headers"].apply_async(
            ("app_header", "traceparent", "spanwise_retry_of"),
            headers={"app_header": "kept", "spanwise_retry_of": f"{1:032x}-{1:016x}"},
        )
        got = result.get(timeout=TIMEOUT)
        send = telemetry.span("send tests.headers")
        traceparent = got.pop("traceparent")
        assert {"app_header": "kept", "spanwise_retry_of": None} == got
        ids = f"00-{send.context.trace_id:032x}-{send.context.span_id:016x}-"
        assert (ids, 1) == (traceparent[:-2], int(traceparent[-2:], 16) & 1)
        assert [] == list(finished("process tests.headers")[0].links)

    def test_unsampled_publish_still_propagates(
        self, celery_app, celery_worker, instrumented, telemetry
    ):
        """Not sampled: no spans, but the worker still receives the (unsampled) context."""
        telemetry.sample(False)
        got = celery_app.tasks["tests.headers"].delay("traceparent").get(timeout=TIMEOUT)
        assert 0 == int(got["traceparent"][-2:], 16) & 1  # the sampled flag is off
        assert [] == telemetry.spans()

    def test_suppressed_publish_is_not_traced(
        self, celery_app, celery_worker, instrumented, telemetry
    ):
        """Inside suppress(): the task runs as sent, with no PRODUCER span and no context."""
        with suppress():
            result = celery_app.tasks["tests.headers"].delay("traceparent")
        got = result.get(timeout=TIMEOUT)
        sends = [s for s in telemetry.spans() if s.name.startswith("send ")]
        assert ({"traceparent": None}, []) == (got, sends)

    def test_receiver_ignores_odd_headers(self, telemetry):
        """The receiver never raises, whatever Celery or another library hands it."""
        from spanwise.core import Guard
        from spanwise.core._messaging import MessagingTracer
        from spanwise.instrumentation.celery._publish import Publisher

        inst = CeleryInstrumentor()
        guard = Guard("celery")
        publisher = Publisher(
            MessagingTracer(inst.tracer, inst.meter, inst.options, guard, system="celery"), guard
        )
        for headers in (None, ("a", "b"), 42):
            publisher.on_before_publish(sender="x", headers=headers, body=object())
        headers = {"id": 7, "task": None}
        publisher.on_before_publish(sender=None, headers=headers, routing_key=None)
        assert {} == guard.failures
        assert {"id", "task", "spanwise_sent_at"} == set(headers)
