"""SQL helpers: literal scrubbing, operation and collection names, query summaries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "SqlInfo",
    "analyze_sql",
    "scrub_sql",
    "sql_collection",
    "sql_operation",
    "sql_summary",
]

# One pass over the text: each alternative is tried at each position, so a quote inside a
# comment or a digit inside an identifier is never mistaken for a literal.
_TOKENS = re.compile(
    r"""
    (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<estring>[Ee]'(?:[^'\\]|\\.|'')*(?:'|\Z))
  | (?P<string>(?:[NnBb]|[Uu]&)?'(?:[^']|'')*(?:'|\Z))
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$.*?(?:\$(?P=tag)?\$|\Z))
  | (?P<quoted_ident>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
  | (?P<hex>\b[Xx]'[0-9A-Fa-f]*'|\b0[xX][0-9A-Fa-f]+\b)
  | (?P<placeholder>\$\d+|:[A-Za-z_]\w*|%\(\w+\)s|%s|\?)
  | (?P<number>(?<![\w$.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<word>[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*|\."(?:[^"]|"")*")*)
    """,
    re.VERBOSE | re.DOTALL,
)
_IN_LIST = re.compile(r"(?i)(\bIN\s*)\(\s*\?(?:\s*,\s*\?)*\s*\)")
_VALUES_LIST = re.compile(
    r"(?i)(\bVALUES\s*)\(\s*\?(?:\s*,\s*\?)*\s*\)(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))*"
)
_SPACES = re.compile(r"\s+")

_OPERATIONS = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "CREATE", "DROP",
        "ALTER", "TRUNCATE", "CALL", "EXEC", "EXECUTE", "BEGIN", "COMMIT", "ROLLBACK",
        "SAVEPOINT", "RELEASE", "GRANT", "REVOKE", "SET", "SHOW", "EXPLAIN", "PRAGMA", "VACUUM",
        "ANALYZE", "COPY", "LOCK", "DECLARE", "FETCH", "CLOSE", "LISTEN", "NOTIFY", "USE",
        "DESCRIBE", "WITH", "VALUES",
    }
)  # fmt: skip
# Keywords after which the next name is a collection (table, view ...).
_TARGET_BEFORE = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "VIEW", "INDEX"})
_DDL_OBJECTS = frozenset({"TABLE", "VIEW", "INDEX", "SEQUENCE", "SCHEMA", "DATABASE", "TRIGGER"})
_SKIP_AFTER_TARGET_KW = frozenset(
    {"IF", "NOT", "EXISTS", "ONLY", "LATERAL", "TEMPORARY", "TEMP", "UNIQUE", "OR", "REPLACE",
     "IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "CONCURRENTLY"}
)  # fmt: skip
# Operations that are also clauses of other statements (UPDATE … SET, INSERT … VALUES).
_CLAUSE_WORDS = frozenset({"SET", "VALUES", "REPLACE", "ANALYZE", "CLOSE", "FETCH", "LOCK"})
_SUMMARY_MAX = 255
_CACHE_MAX_TEXT = 16_384


@dataclass(frozen=True)
class SqlInfo:
    """What one SQL text yields: scrubbed text, operation, first collection and summary."""

    scrubbed: str
    operation: str | None
    collection: str | None
    summary: str | None


def _scrub(sql: str) -> tuple[str, list[tuple[str, str]]]:
    """Scrubbed text plus the sequence of (kind, value) tokens that matter for summaries."""
    out: list[str] = []
    words: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKENS.finditer(sql):
        kind = m.lastgroup
        start, end = m.span()
        out.append(sql[pos:start])
        pos = end
        text = m.group()
        if kind in ("line_comment", "block_comment"):
            out.append(" ")
        elif kind in ("string", "estring", "dollar", "hex", "number"):
            out.append("?")
        else:
            out.append(text)
            if kind == "word":
                words.append(("word", text))
            elif kind == "quoted_ident":
                words.append(("ident", text))
    out.append(sql[pos:])
    scrubbed = "".join(out)
    scrubbed = _IN_LIST.sub(r"\1(?)", scrubbed)
    scrubbed = _VALUES_LIST.sub(r"\1(?)", scrubbed)
    scrubbed = _SPACES.sub(" ", scrubbed).strip()
    return scrubbed, words


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] in '"`[' and name[-1] in '"`]':
        return name[1:-1]
    return name


def _analyze(sql: str) -> SqlInfo:
    scrubbed, words = _scrub(sql)
    operation: str | None = None
    collection: str | None = None
    summary: list[str] = []
    expect_target = False
    for kind, text in words:
        upper = text.upper() if kind == "word" else ""
        if expect_target:
            if upper in _SKIP_AFTER_TARGET_KW:
                continue
            if kind == "ident" or (kind == "word" and upper not in _OPERATIONS):
                name = _unquote(text)
                if collection is None:
                    collection = name
                summary.append(name)
                expect_target = False
                continue
            expect_target = False
        if kind != "word":
            continue
        if (
            upper in _OPERATIONS
            and upper != "WITH"
            and not (upper in _CLAUSE_WORDS and operation not in (None, "WITH"))
        ):
            if operation is None or operation == "WITH":
                operation = upper
            summary.append(upper)
            if upper in ("UPDATE", "TRUNCATE"):
                expect_target = True
        elif upper == "WITH" and operation is None:
            operation = "WITH"
        elif upper in _TARGET_BEFORE and upper != "UPDATE":
            if upper in _DDL_OBJECTS and summary and summary[-1] in ("CREATE", "DROP", "ALTER"):
                summary[-1] = f"{summary[-1]} {upper}"
            expect_target = upper in ("FROM", "JOIN", "INTO") or upper in _DDL_OBJECTS
    if operation == "WITH":
        operation = next((s.split()[0] for s in summary if s.split()[0] in _OPERATIONS), "WITH")
    text = " ".join(summary)
    if len(text) > _SUMMARY_MAX:
        text = text[:_SUMMARY_MAX].rsplit(" ", 1)[0]
    return SqlInfo(scrubbed, operation, collection, text or None)


@lru_cache(maxsize=2048)
def _analyze_cached(sql: str) -> SqlInfo:
    return _analyze(sql)


def analyze_sql(sql: str) -> SqlInfo:
    """Scrub and summarise *sql* once (cached for repeated statements, bounded).

    Never raises: odd input yields what can be read from it.
    """
    if sql is None:
        return SqlInfo("", None, None, None)
    if not isinstance(sql, str):
        try:
            sql = sql.decode("utf-8", "replace") if isinstance(sql, bytes) else str(sql)
        except Exception:  # noqa: BLE001
            return SqlInfo("", None, None, None)
    try:
        if len(sql) <= _CACHE_MAX_TEXT:
            return _analyze_cached(sql)
        return _analyze(sql)
    except Exception:  # noqa: BLE001 - regex edge cases must never reach the app
        return SqlInfo("", None, None, None)


def scrub_sql(sql: str) -> str:
    """Replace literals (strings, numbers, hex, dollar-quoted) with ``?``, collapse IN-lists,
    drop comments and fold white space: ``WHERE name = 'bob'`` becomes ``WHERE name = ?``."""
    return analyze_sql(sql).scrubbed


def sql_operation(sql: str) -> str | None:
    """The statement's operation (``SELECT``, ``INSERT`` …), upper case."""
    return analyze_sql(sql).operation


def sql_collection(sql: str) -> str | None:
    """The first table (or view) the statement names."""
    return analyze_sql(sql).collection


def sql_summary(sql: str) -> str | None:
    """A low-cardinality summary of operations and targets: ``SELECT users orders``."""
    return analyze_sql(sql).summary
