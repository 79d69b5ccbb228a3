"""spanwise.instrumentation.confluent_kafka._clients."""

from __future__ import annotations

from spanwise.instrumentation.confluent_kafka._clients import (
    ConsumerState,
    ProducerState,
    client_config,
)


class TestClientConfig:
    def test_dict_and_keywords_merge(self) -> None:
        """The config dict and keyword arguments merge, keywords last."""
        assert {"a": 1, "b": 3} == client_config(({"a": 1, "b": 2},), {"b": 3})

    def test_no_dict(self) -> None:
        """A non-mapping first argument is ignored."""
        assert {} == client_config(("nonsense",), {})


class TestProducerState:
    def test_reads_callback_and_client_id(self) -> None:
        """on_delivery and client.id come from the config."""

        def callback(err: object, msg: object) -> None:
            pass

        state = ProducerState({"on_delivery": callback, "client.id": "app"})
        assert (True, callback, "app", False) == (
            state.known, state.default_callback, state.client_id, state.only_errors
        )  # fmt: skip

    def test_only_error_reports(self) -> None:
        """delivery.report.only.error is understood as a string or a bool."""
        assert ProducerState({"delivery.report.only.error": "true"}).only_errors
        assert not ProducerState({"delivery.report.only.error": False}).only_errors

    def test_unknown_config(self) -> None:
        """Without a config the state says so and holds no callback."""
        state = ProducerState(None)
        assert (False, None) == (state.known, state.default_callback)


class TestConsumerState:
    def test_group_and_client_id(self) -> None:
        """group.id and client.id come from the config; odd values are dropped."""
        state = ConsumerState({"group.id": "billing", "client.id": 42})
        assert ("billing", None, []) == (state.group, state.client_id, state.open)
