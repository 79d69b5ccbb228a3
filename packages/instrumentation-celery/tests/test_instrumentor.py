"""CeleryInstrumentor: options, idempotence and a clean uninstrument()."""

from __future__ import annotations

import celery.app.base
from celery import signals

from spanwise.instrumentation.celery import CeleryInstrumentor

TIMEOUT = 20


class TestCeleryInstrumentor:
    """Instrumenting and uninstrumenting."""

    def test_use_links_option_applies_to_every_task(
        self, celery_app, celery_worker, telemetry, finished
    ):
        """``instrument(use_links=True)``: worker spans link instead of being children."""
        inst = CeleryInstrumentor()
        inst.instrument(use_links=True)
        try:
            assert 3 == celery_app.tasks["tests.add"].delay(1, 2).get(timeout=TIMEOUT)
            process = finished("process tests.add")[0]
        finally:
            inst.uninstrument()
        send = telemetry.span("send tests.add")
        assert process.parent is None
        assert [send.context.span_id] == [link.context.span_id for link in process.links]

    def test_per_task_false_overrides_use_links(
        self, celery_app, celery_worker, telemetry, finished
    ):
        """``spanwise_link=False`` keeps a task a child even when links are the default."""
        inst = CeleryInstrumentor()
        inst.instrument(use_links=True)
        try:
            assert "parented" == celery_app.tasks["tests.parented"].delay().get(timeout=TIMEOUT)
            process = finished("process tests.parented")[0]
        finally:
            inst.uninstrument()
        assert telemetry.span("send tests.parented").context.span_id == process.parent.span_id

    def test_restores_send_task_and_disconnects_signals(self, telemetry):
        """After uninstrument() the original ``send_task`` is back and no receiver of ours is left."""
        original = celery.app.base.Celery.__dict__["send_task"]
        before = {
            name: len(getattr(signals, name).receivers)
            for name in ("task_prerun", "task_postrun", "before_task_publish")
        }
        inst = CeleryInstrumentor()
        inst.instrument()
        assert original is not celery.app.base.Celery.__dict__["send_task"]
        inst.uninstrument()
        assert original is celery.app.base.Celery.__dict__["send_task"]
        after = {name: len(getattr(signals, name).receivers) for name in before}
        assert before == after

    def test_no_spans_once_uninstrumented(self, celery_app, celery_worker, telemetry):
        """Tasks still run, untraced, after uninstrument()."""
        inst = CeleryInstrumentor()
        inst.instrument()
        inst.uninstrument()
        assert 7 == celery_app.tasks["tests.add"].delay(3, 4).get(timeout=TIMEOUT)
        assert [] == telemetry.spans()

    def test_instrument_twice_traces_once(self, celery_app, celery_worker, telemetry, finished):
        """A second instrument() changes nothing: one span per publish and per execution."""
        inst = CeleryInstrumentor()
        inst.instrument()
        inst.instrument()
        try:
            assert 2 == celery_app.tasks["tests.add"].delay(1, 1).get(timeout=TIMEOUT)
            finished("process tests.add")
        finally:
            inst.uninstrument()
        names = sorted(s.name for s in telemetry.spans())
        assert ["process tests.add", "send tests.add"] == names

    def test_disabled_by_environment(self, monkeypatch, telemetry):
        """``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=celery``: nothing is patched or connected."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "celery")
        original = celery.app.base.Celery.__dict__["send_task"]
        receivers = len(signals.task_prerun.receivers)
        inst = CeleryInstrumentor()
        inst.instrument()
        assert (False, original, receivers) == (
            inst.is_instrumented,
            celery.app.base.Celery.__dict__["send_task"],
            len(signals.task_prerun.receivers),
        )
