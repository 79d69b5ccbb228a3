"""The public surface of spanwise.instrumentation.celery, pinned."""

from __future__ import annotations

import spanwise.instrumentation.celery as package


class TestExportedMembers:
    """``__all__`` is the public API."""

    def test_all(self):
        """Exactly these names are public."""
        expected = [
            "CELERY_TASK_NAME",
            "CELERY_TASK_OUTCOME",
            "CELERY_TASK_RETRIES",
            "TASK_EXECUTIONS",
            "TASK_LINK_ATTRIBUTE",
            "TASK_WAIT_DURATION",
            "CeleryInstrumentor",
        ]
        assert expected == package.__all__

    def test_every_name_resolves(self):
        """Every name in ``__all__`` exists on the package."""
        assert [] == [name for name in package.__all__ if not hasattr(package, name)]
