"""OpenTelemetry tracing and metrics for confluent-kafka producers and consumers."""

from ._instrumentor import ConfluentKafkaInstrumentor
from ._process import process_message

__all__ = ["ConfluentKafkaInstrumentor", "process_message"]
