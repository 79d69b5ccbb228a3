"""Command names and value-free db.query.text."""

from __future__ import annotations

from typing import Any

import pytest

from spanwise.instrumentation.redis._query import (
    MAX_ARGS,
    MAX_COMMANDS,
    command_name,
    pipeline_text,
    query_text,
)


class TestCommandName:
    @pytest.mark.parametrize(
        ("first", "expected"),
        [("GET", "GET"), ("get", "GET"), (b"hset", "HSET"), ("SCRIPT LOAD", "SCRIPT LOAD")],
    )
    def test_upper_cases_str_and_bytes(self, first: Any, expected: str) -> None:
        """Names are upper-cased text whether given as str or bytes."""
        assert expected == command_name(first)

    def test_bounded(self) -> None:
        """A huge custom command name is cut to 64 characters."""
        assert 64 == len(command_name("x" * 10_000))

    def test_non_utf8_bytes(self) -> None:
        """Bytes that are not UTF-8 do not raise."""
        assert "A\ufffd" == command_name(b"a\xff")


class TestQueryText:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (("SET", "user:42", "secret"), "SET user:42 ?"),
            (("SET", "user:42", "secret", "EX", 10), "SET user:42 ? ? ?"),
            (("GET", b"user:42"), "GET user:42"),
            (("MSET", "k1", "v1", "k2", "v2"), "MSET k1 ? k2 ?"),
            (("HSET", "h", "f", "v"), "HSET h ? ?"),
            (("DEL", "a", "b", "c"), "DEL a b c"),
            (("BLPOP", "q1", "q2", 5), "BLPOP q1 q2 ?"),
            (("RENAME", "old", "new"), "RENAME old new"),
            (("EVAL", "return 1", 2, "k1", "k2", "arg"), "EVAL ? 2 k1 k2 ?"),
            (("PUBLISH", "news", "hello"), "PUBLISH news ?"),
            (("PING",), "PING"),
            (("CONFIG GET", "maxmemory"), "CONFIG GET ?"),
            (("CLIENT", "SETNAME", "app"), "CLIENT SETNAME ?"),
            (("FOO.BAR", "x", "y"), "FOO.BAR ? ?"),
        ],
    )
    def test_keys_kept_values_hidden(self, args: tuple[Any, ...], expected: str) -> None:
        """The command and its keys are kept; every value becomes ?."""
        assert expected == query_text(args)

    @pytest.mark.parametrize(
        "args",
        [
            ("AUTH", "s3cret"),
            ("AUTH", "alice", "s3cret"),
            ("HELLO", 3, "AUTH", "alice", "s3cret"),
        ],
    )
    def test_credentials_never_recorded(self, args: tuple[Any, ...]) -> None:
        """AUTH and HELLO keep only their name, even in raw mode."""
        assert [args[0], args[0]] == [query_text(args), query_text(args, raw=True)]

    @pytest.mark.parametrize(
        "args",
        [("GET", b"k"), ("SET", "k", "v"), ("AUTH", "pw"), ("SCRIPT LOAD", "x"), ("PING",)],
    )
    def test_given_name_same_text(self, args: tuple[Any, ...]) -> None:
        """Passing the already computed name changes nothing."""
        assert query_text(args) == query_text(args, name=command_name(args[0]))

    def test_multiword_hidden_command(self) -> None:
        """A hidden command stays hidden when sent with a subcommand in its name."""
        assert "HELLO 3" == query_text(("HELLO 3", "AUTH", "u", "pw"))

    def test_raw_keeps_values(self) -> None:
        """Raw mode (an explicit opt-in) keeps values."""
        assert "SET k v" == query_text(("SET", "k", "v"), raw=True)

    def test_many_arguments_bounded(self) -> None:
        """Only the first MAX_ARGS arguments are rendered, then one ellipsis."""
        args = ("DEL", *(f"k{i}" for i in range(1000)))
        assert MAX_ARGS + 2 == len(query_text(args).split(" "))

    def test_odd_arguments(self) -> None:
        """Objects, floats and bad numkeys never raise."""
        assert "EVAL ? x" == query_text(("EVAL", "s", "x"))
        assert "GET ?" == query_text(("GET", object()))
        assert "INCRBYFLOAT k ?" == query_text(("INCRBYFLOAT", "k", 1.5))


class TestPipelineText:
    def test_one_command_per_line(self) -> None:
        """A pipeline's commands are scrubbed, one per line."""
        commands = [("SET", "a", "1"), ("GET", "a"), ("HSET", "h", "f", "v")]
        assert "SET a ?\nGET a\nHSET h ? ?" == pipeline_text(commands)

    def test_bounded(self) -> None:
        """Only the first MAX_COMMANDS commands are rendered, then one ellipsis line."""
        commands = [("GET", f"k{i}") for i in range(500)]
        assert MAX_COMMANDS + 1 == len(pipeline_text(commands).splitlines())
