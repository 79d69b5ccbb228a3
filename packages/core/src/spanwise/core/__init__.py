"""spanwise-core: what every Spanwise plugin stands on."""

from ._config import (
    ExcludedUrls,
    HeaderCapture,
    Options,
    disabled_instrumentations,
    env_bool,
    env_int,
    env_list,
    max_attribute_length,
)
from ._db_client import DbClientTracer, DbOperation
from ._guard import Guard
from ._http_client import ClientRequest, HttpClientTracer
from ._http_server import HttpServerTracer, ServerRequest
from ._instrumentor import SCHEMA_URL, Instrumentor, Scoped
from ._messaging import (
    OPERATION_TYPE_PROCESS,
    OPERATION_TYPE_RECEIVE,
    OPERATION_TYPE_SEND,
    MessagingOperation,
    MessagingTracer,
)
from ._patching import Around, Call, Hooks, Patcher, Wrapper
from ._version import __version__
from ._versions import LibraryCheck, check_library, supported_requirements

__all__ = [
    "OPERATION_TYPE_PROCESS",
    "OPERATION_TYPE_RECEIVE",
    "OPERATION_TYPE_SEND",
    "SCHEMA_URL",
    "Around",
    "Call",
    "ClientRequest",
    "DbClientTracer",
    "DbOperation",
    "ExcludedUrls",
    "Guard",
    "HeaderCapture",
    "Hooks",
    "HttpClientTracer",
    "HttpServerTracer",
    "Instrumentor",
    "LibraryCheck",
    "MessagingOperation",
    "MessagingTracer",
    "Options",
    "Patcher",
    "Scoped",
    "ServerRequest",
    "Wrapper",
    "__version__",
    "check_library",
    "disabled_instrumentations",
    "env_bool",
    "env_int",
    "env_list",
    "max_attribute_length",
    "supported_requirements",
]
