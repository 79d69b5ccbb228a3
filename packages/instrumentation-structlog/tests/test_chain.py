"""Where our processors go in a chain: just before the renderer."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from structlog.processors import JSONRenderer, KeyValueRenderer, LogfmtRenderer, add_log_level
from structlog.stdlib import ProcessorFormatter, render_to_log_kwargs

from spanwise.instrumentation.structlog._chain import (
    capture_chain,
    insert_before_renderer,
    renderer_index,
)


def ours(logger: Any, method_name: str, event_dict: Any) -> Any:
    return event_dict


class TestRendererIndex:
    @pytest.mark.parametrize(
        "renderer",
        [
            JSONRenderer(),
            KeyValueRenderer(),
            LogfmtRenderer(),
            structlog.dev.ConsoleRenderer(colors=False),
            ProcessorFormatter.wrap_for_formatter,
            render_to_log_kwargs,
        ],
    )
    def test_known_renderers(self, renderer: Any) -> None:
        """A known renderer is found even when something follows it."""
        assert 1 == renderer_index([add_log_level, renderer, ours])

    def test_unknown_last_processor(self) -> None:
        """Without a known renderer the last processor is taken as the renderer."""
        assert 1 == renderer_index([add_log_level, ours])

    def test_empty_chain(self) -> None:
        """An empty chain: position 0."""
        assert 0 == renderer_index([])


class TestInsertBeforeRenderer:
    def test_inserts_before_renderer(self) -> None:
        """The new processors go just before the renderer, in order."""
        renderer = JSONRenderer()
        assert [add_log_level, ours, print, renderer] == insert_before_renderer(
            [add_log_level, renderer], [ours, print]
        )

    def test_skips_present_processors(self) -> None:
        """A processor already in the chain is not added twice."""
        renderer = JSONRenderer()
        assert [ours, renderer] == insert_before_renderer([ours, renderer], [ours])

    def test_leaves_input_alone(self) -> None:
        """The chain passed in is not changed."""
        chain: list[Any] = [add_log_level, JSONRenderer()]
        before = list(chain)
        insert_before_renderer(chain, [ours])
        assert before == chain


class TestCaptureChain:
    def test_capture_logs_chain(self) -> None:
        """structlog.testing.capture_logs's chain is recognised."""
        with structlog.testing.capture_logs():
            chain = list(structlog.get_config()["processors"])
        assert capture_chain(chain)

    def test_ordinary_chain(self) -> None:
        """An ordinary chain is not a capture chain."""
        assert not capture_chain([add_log_level, JSONRenderer()])
