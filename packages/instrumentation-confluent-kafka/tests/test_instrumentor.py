"""spanwise.instrumentation.confluent_kafka._instrumentor."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka import cimpl, deserializing_consumer, serializing_producer
from opentelemetry import trace

from spanwise.core.testing import read_spans, render_tree

_CONSUMER_SCRIPT = """
import sys
import confluent_kafka
from opentelemetry import trace
from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor

install_jsonl_export(sys.argv[3], service_name="consumer")
ConfluentKafkaInstrumentor().instrument()
consumer = confluent_kafka.Consumer(
    {"bootstrap.servers": sys.argv[1], "group.id": "child", "log_level": 0}
)
consumer.assign([confluent_kafka.TopicPartition(sys.argv[2], 0, confluent_kafka.OFFSET_BEGINNING)])
for _ in range(150):
    message = consumer.poll(0.2)
    if message is not None and message.error() is None:
        with trace.get_tracer("worker").start_as_current_span("handle"):
            pass
        break
else:
    sys.exit("no message")
consumer.close()
"""


class TestConfluentKafkaInstrumentor:
    def test_module_classes_replaced_and_restored(self, instrument: Any) -> None:
        """instrument() swaps in traced subclasses; uninstrument() puts the C types back."""
        instrument()
        assert confluent_kafka.Producer is not cimpl.Producer
        assert issubclass(confluent_kafka.Producer, cimpl.Producer)
        assert issubclass(confluent_kafka.Consumer, cimpl.Consumer)
        instrument().uninstrument()
        assert confluent_kafka.Producer is cimpl.Producer
        assert confluent_kafka.Consumer is cimpl.Consumer

    def test_every_patch_applies(self, instrument: Any) -> None:
        """Every patch applies on this version (Consumer.__exit__ only where it exists), so
        instrument() logs no warning."""
        assert {} == dict(instrument().guard.failures)

    def test_python_classes_restored_exactly(self, instrument: Any) -> None:
        """uninstrument() restores the exact original methods of the Python client classes."""
        produce = serializing_producer.SerializingProducer.__dict__["produce"]
        poll = deserializing_consumer.DeserializingConsumer.__dict__["poll"]
        instrument()
        assert produce is not serializing_producer.SerializingProducer.__dict__["produce"]
        instrument().uninstrument()
        assert produce is serializing_producer.SerializingProducer.__dict__["produce"]
        assert poll is deserializing_consumer.DeserializingConsumer.__dict__["poll"]

    def test_isinstance_keeps_working(self, instrument: Any, kafka: Any) -> None:
        """Producers made before and after instrument() are all instances of the module class."""
        before = cimpl.Producer(kafka.producer_config())
        instrument()
        after = confluent_kafka.Producer(kafka.producer_config())
        assert isinstance(before, confluent_kafka.Producer)
        assert isinstance(after, confluent_kafka.Producer)
        assert isinstance(after, cimpl.Producer)
        assert issubclass(confluent_kafka.SerializingProducer, confluent_kafka.Producer)
        assert not isinstance(before, confluent_kafka.Consumer)

    def test_untraced_methods_behave_as_before(
        self, instrument: Any, kafka: Any, topic: str
    ) -> None:
        """Methods we do not trace work as on the C type; unknown attributes still fail."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        producer.produce(topic, b"v", partition=0)
        assert 1 == len(producer)
        assert producer.list_topics(timeout=10).brokers
        producer.purge()
        assert 0 == producer.flush(10)
        with pytest.raises(AttributeError):
            producer.no_such_attribute = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            producer.no_such_method()  # type: ignore[attr-defined]

    def test_c_instance_made_before_is_untraced(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A C producer created before instrument() still works, untraced (documented limit)."""
        producer = confluent_kafka.Producer(kafka.producer_config())
        instrument()
        producer.produce(topic, b"v", partition=0)
        assert 0 == producer.flush(10)
        assert [] == telemetry.spans()

    def test_no_spans_after_uninstrument(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A traced producer created while instrumented stops tracing after uninstrument()."""
        producer = confluent_kafka.Producer(kafka.producer_config())
        instrument()
        traced = confluent_kafka.Producer(kafka.producer_config())
        instrument().uninstrument()
        traced.produce(topic, b"v", partition=0)
        producer.produce(topic, b"v", partition=0)
        assert 0 == traced.flush(10)
        assert [] == telemetry.spans()

    def test_uninstrument_ends_open_process_spans(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A process span still open when uninstrument() runs is ended, not lost."""
        instrument()
        consumer = confluent_kafka.Consumer(kafka.consumer_config())
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        instrument().uninstrument()
        consumer.close()
        assert [f"process {topic}"] == [s.name for s in telemetry.spans()]

    def test_disabled_by_environment(
        self, instrument: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=confluent_kafka leaves the library untouched."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "confluent_kafka")
        assert instrument().is_instrumented is False
        assert confluent_kafka.Producer is cimpl.Producer

    def test_instrument_before_import(self, tmp_path: Path) -> None:
        """instrument() before confluent_kafka is imported patches it on import."""
        script = textwrap.dedent("""
            import sys
            from spanwise.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor
            ConfluentKafkaInstrumentor().instrument()
            assert "confluent_kafka" not in sys.modules
            import confluent_kafka
            print(confluent_kafka.Producer is not confluent_kafka.cimpl.Producer)
        """)
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert ("True", 0) == (out.stdout.strip(), out.returncode), out.stderr

    @pytest.mark.e2e
    def test_one_trace_across_processes(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any, tmp_path: Path
    ) -> None:
        """Producer here, consumer in another process: one trace, the work under `process`."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        with trace.get_tracer("web").start_as_current_span("request"):
            producer.produce(topic, b"order", partition=0)
        assert 0 == producer.flush(10)
        script = tmp_path / "consumer.py"
        script.write_text(_CONSUMER_SCRIPT)
        span_file = tmp_path / "spans.jsonl"
        out = subprocess.run(
            [sys.executable, str(script), kafka.bootstrap, topic, str(span_file)],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert 0 == out.returncode, out.stderr
        spans = [*telemetry.spans(), *read_spans(span_file)]
        expected = f"""
            request [INTERNAL]
            └── send {topic} [PRODUCER]
                └── process {topic} [CONSUMER]
                    └── handle [INTERNAL]
        """
        assert textwrap.dedent(expected).strip() == render_tree(spans).strip()
        assert 1 == len(
            {span.context.trace_id for span in telemetry.spans()}
            | {record.trace_id for record in read_spans(span_file)}
        )
