"""Attribute and metric names from the stable OpenTelemetry semantic conventions."""

from __future__ import annotations

__all__ = [
    "CLIENT_ADDRESS",
    "CLIENT_PORT",
    "DB_CLIENT_CONNECTION_COUNT",
    "DB_CLIENT_CONNECTION_POOL_NAME",
    "DB_CLIENT_CONNECTION_STATE",
    "DB_CLIENT_OPERATION_DURATION",
    "DB_COLLECTION_NAME",
    "DB_NAMESPACE",
    "DB_OPERATION_BATCH_SIZE",
    "DB_OPERATION_NAME",
    "DB_QUERY_SUMMARY",
    "DB_QUERY_TEXT",
    "DB_RESPONSE_STATUS_CODE",
    "DB_SYSTEM_NAME",
    "DURATION_BUCKETS_DB",
    "DURATION_BUCKETS_HTTP",
    "ERROR_TYPE",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_TYPE",
    "HTTP_CLIENT_REQUEST_DURATION",
    "HTTP_REQUEST_METHOD",
    "HTTP_REQUEST_METHOD_ORIGINAL",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "HTTP_SERVER_ACTIVE_REQUESTS",
    "HTTP_SERVER_REQUEST_DURATION",
    "MESSAGING_BATCH_MESSAGE_COUNT",
    "MESSAGING_CLIENT_CONSUMED_MESSAGES",
    "MESSAGING_CLIENT_ID",
    "MESSAGING_CLIENT_OPERATION_DURATION",
    "MESSAGING_CLIENT_SENT_MESSAGES",
    "MESSAGING_CONSUMER_GROUP_NAME",
    "MESSAGING_DESTINATION_NAME",
    "MESSAGING_DESTINATION_PARTITION_ID",
    "MESSAGING_KAFKA_MESSAGE_KEY",
    "MESSAGING_KAFKA_OFFSET",
    "MESSAGING_MESSAGE_ID",
    "MESSAGING_OPERATION_NAME",
    "MESSAGING_OPERATION_TYPE",
    "MESSAGING_PROCESS_DURATION",
    "MESSAGING_SYSTEM",
    "NETWORK_PEER_ADDRESS",
    "NETWORK_PEER_PORT",
    "NETWORK_PROTOCOL_NAME",
    "NETWORK_PROTOCOL_VERSION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "URL_FULL",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER_AGENT_ORIGINAL",
]

# General
ERROR_TYPE = "error.type"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
NETWORK_PEER_ADDRESS = "network.peer.address"
NETWORK_PEER_PORT = "network.peer.port"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"

# HTTP (stable)
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_ROUTE = "http.route"
URL_FULL = "url.full"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
USER_AGENT_ORIGINAL = "user_agent.original"
HTTP_SERVER_REQUEST_DURATION = "http.server.request.duration"
HTTP_SERVER_ACTIVE_REQUESTS = "http.server.active_requests"
HTTP_CLIENT_REQUEST_DURATION = "http.client.request.duration"
#: Bucket boundaries the HTTP conventions recommend for request durations, in seconds.
DURATION_BUCKETS_HTTP = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

# Database (stable)
DB_SYSTEM_NAME = "db.system.name"
DB_NAMESPACE = "db.namespace"
DB_QUERY_TEXT = "db.query.text"
DB_QUERY_SUMMARY = "db.query.summary"
DB_OPERATION_NAME = "db.operation.name"
DB_COLLECTION_NAME = "db.collection.name"
DB_OPERATION_BATCH_SIZE = "db.operation.batch.size"
DB_RESPONSE_STATUS_CODE = "db.response.status_code"
DB_CLIENT_OPERATION_DURATION = "db.client.operation.duration"
DB_CLIENT_CONNECTION_COUNT = "db.client.connection.count"
DB_CLIENT_CONNECTION_STATE = "db.client.connection.state"
DB_CLIENT_CONNECTION_POOL_NAME = "db.client.connection.pool.name"
#: Bucket boundaries the database conventions recommend for operation durations, in seconds.
DURATION_BUCKETS_DB = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

# Messaging
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_DESTINATION_PARTITION_ID = "messaging.destination.partition.id"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CLIENT_ID = "messaging.client.id"
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
MESSAGING_KAFKA_MESSAGE_KEY = "messaging.kafka.message.key"
MESSAGING_KAFKA_OFFSET = "messaging.kafka.offset"
MESSAGING_CLIENT_SENT_MESSAGES = "messaging.client.sent.messages"
MESSAGING_CLIENT_CONSUMED_MESSAGES = "messaging.client.consumed.messages"
MESSAGING_CLIENT_OPERATION_DURATION = "messaging.client.operation.duration"
MESSAGING_PROCESS_DURATION = "messaging.process.duration"
