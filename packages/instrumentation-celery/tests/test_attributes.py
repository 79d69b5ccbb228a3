"""Names the plugin writes: usable wherever Celery puts them."""

from __future__ import annotations

from spanwise.instrumentation.celery import _attributes


class TestHeaderNames:
    """Header keys become attributes of ``task.request`` on the worker."""

    def test_header_names_are_identifiers(self):
        """Each header key is a valid attribute name, so ``getattr(task.request, key)`` works."""
        names = [_attributes.HEADER_SENT_AT, _attributes.HEADER_RETRY_OF]
        assert [True, True] == [name.isidentifier() for name in names]

    def test_header_names_do_not_clash_with_celery_request_fields(self):
        """No header key shadows a field of Celery's request context."""
        from celery.app.task import Context

        names = {_attributes.HEADER_SENT_AT, _attributes.HEADER_RETRY_OF}
        assert set() == names & set(vars(Context))
