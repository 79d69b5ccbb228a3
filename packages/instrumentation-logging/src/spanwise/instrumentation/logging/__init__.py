"""Log correlation for the standard library's logging: trace ids on every LogRecord."""

from ._fields import DEFAULT_FORMAT, FIELDS, RECORD_DEFAULTS
from ._handler import LogRecordHandler
from ._instrumentor import LoggingInstrumentor

__all__ = ["DEFAULT_FORMAT", "FIELDS", "RECORD_DEFAULTS", "LogRecordHandler", "LoggingInstrumentor"]
