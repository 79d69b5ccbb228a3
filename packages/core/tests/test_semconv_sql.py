"""SQL helpers: literal scrubbing, operation/collection and summaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanwise.core.semconv import analyze_sql, scrub_sql, sql_collection, sql_operation, sql_summary

SCRUB_TABLE = [
    ("SELECT * FROM users WHERE name = 'bob' AND age > 3",
     "SELECT * FROM users WHERE name = ? AND age > ?"),
    ("SELECT 1", "SELECT ?"),
    ("SELECT * FROM t WHERE x = -1.5e10", "SELECT * FROM t WHERE x = ?"),
    ("SELECT * FROM t WHERE s = 'it''s'", "SELECT * FROM t WHERE s = ?"),
    ("SELECT * FROM t WHERE s = E'a\\'b'", "SELECT * FROM t WHERE s = ?"),
    ("SELECT * FROM t WHERE b = X'DEADBEEF' OR h = 0xFF", "SELECT * FROM t WHERE b = ? OR h = ?"),
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"),
    ("SELECT * FROM t WHERE id IN ('a','b')", "SELECT * FROM t WHERE id IN (?)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", "INSERT INTO t (a, b) VALUES (?)"),
    ("SELECT a -- secret 'x'\nFROM t", "SELECT a FROM t"),
    ("SELECT /* token=abc */ a FROM t", "SELECT a FROM t"),
    ("SELECT $$dollar 'quoted'$$", "SELECT ?"),
    ("SELECT $tag$x$tag$ FROM t", "SELECT ? FROM t"),
    ("SELECT * FROM t1 WHERE c2 = $1 AND c3 = :name AND c4 = %s AND c5 = ?",
     "SELECT * FROM t1 WHERE c2 = $1 AND c3 = :name AND c4 = %s AND c5 = ?"),
    ('SELECT "col1" FROM "Table2"', 'SELECT "col1" FROM "Table2"'),
    ("UPDATE t SET v = 'secret' WHERE id = 7", "UPDATE t SET v = ? WHERE id = ?"),
    ("SELECT * FROM t WHERE s = 'unterminated", "SELECT * FROM t WHERE s = ?"),
]  # fmt: skip


class TestScrub:
    @pytest.mark.parametrize(("sql", "expected"), SCRUB_TABLE)
    def test_scrub_table(self, sql: str, expected: str) -> None:
        """Literals become ?, lists collapse, comments go, placeholders and names stay."""
        assert expected == scrub_sql(sql)

    @given(st.text(max_size=300))
    @settings(max_examples=300, deadline=None)
    def test_never_raises(self, sql: str) -> None:
        """Any text at all yields a string."""
        assert isinstance(scrub_sql(sql), str)

    @given(st.text(alphabet="abcdefgh'", min_size=1, max_size=20))
    @settings(max_examples=200, deadline=None)
    def test_string_literal_contents_never_leak(self, secret: str) -> None:
        """Whatever is inside a string literal is gone from the scrubbed text."""
        body = secret.replace("'", "''")
        scrubbed = scrub_sql(f"SELECT * FROM users WHERE zz = 'Q{body}Q'")
        assert "Q" not in scrubbed

    def test_bytes_and_odd_input(self) -> None:
        """Bytes are decoded; non-text input gives an empty analysis rather than an error."""
        assert scrub_sql(b"SELECT 1") == "SELECT ?"  # type: ignore[arg-type]
        assert analyze_sql(None).scrubbed == ""  # type: ignore[arg-type]


SUMMARY_TABLE = [
    ("SELECT * FROM users WHERE id = 1", "SELECT", "users", "SELECT users"),
    ("select a from orders o join items i on o.id = i.oid", "SELECT", "orders", "SELECT orders items"),
    ("INSERT INTO orders (id) VALUES (1)", "INSERT", "orders", "INSERT orders"),
    ("INSERT OR REPLACE INTO kv (k) VALUES (?)", "INSERT", "kv", "INSERT kv"),
    ("UPDATE accounts SET balance = 0", "UPDATE", "accounts", "UPDATE accounts"),
    ("DELETE FROM sessions WHERE ts < 3", "DELETE", "sessions", "DELETE sessions"),
    ("CREATE TABLE IF NOT EXISTS items (id int)", "CREATE", "items", "CREATE TABLE items"),
    ("DROP TABLE t", "DROP", "t", "DROP TABLE t"),
    ("WITH c AS (SELECT * FROM a) SELECT * FROM c", "SELECT", "a", "SELECT a SELECT c"),
    ("INSERT INTO archive SELECT * FROM orders", "INSERT", "archive", "INSERT archive SELECT orders"),
    ('SELECT x FROM "Quoted Name"', "SELECT", "Quoted Name", "SELECT Quoted Name"),
    ("SELECT x FROM public.users", "SELECT", "public.users", "SELECT public.users"),
    ("BEGIN", "BEGIN", None, "BEGIN"),
    ("", None, None, None),
]  # fmt: skip


class TestSummary:
    @pytest.mark.parametrize(("sql", "operation", "collection", "summary"), SUMMARY_TABLE)
    def test_summary_table(
        self, sql: str, operation: str | None, collection: str | None, summary: str | None
    ) -> None:
        """Operation, first collection and the low-cardinality summary."""
        assert (operation, collection, summary) == (
            sql_operation(sql),
            sql_collection(sql),
            sql_summary(sql),
        )

    def test_summary_is_bounded(self) -> None:
        """A huge UNION stays within 255 characters."""
        sql = " UNION ".join(f"SELECT a FROM table_{i}" for i in range(200))
        assert len(sql_summary(sql) or "") <= 255
