"""Command names and ``db.query.text`` for Redis commands: keys kept, values hidden."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_ARGS", "MAX_COMMANDS", "command_name", "pipeline_text", "query_text"]

#: At most this many arguments of one command are rendered; the rest become one ``…``.
MAX_ARGS = 64
#: At most this many commands of one pipeline are rendered; the rest become one ``…`` line.
MAX_COMMANDS = 64
#: Keys and command names are cut to this many characters.
MAX_TOKEN = 128
_MAX_NAME = 64

# Where the keys are, per command (the rest of the arguments are values, shown as ``?``).
_ALL = -1  # every argument is a key (DEL k1 k2, MGET k1 k2)
_ALL_BUT_LAST = -2  # every argument but the last (BLPOP k1 k2 timeout)
_PAIRS = -3  # key, value, key, value (MSET k1 v1 k2 v2)
_NUMKEYS = -4  # script/sha, numkeys, keys..., args... (EVAL, FCALL)
_HIDDEN = -5  # no argument is recorded at all, not even as ``?`` (AUTH, HELLO)
_SUBCOMMAND = -6  # the first argument is a subcommand keyword (CONFIG GET ?)
_SUBCOMMAND_DONE = -7  # the name already holds the subcommand ("CONFIG GET" ?)

_FIRST_KEY = (
    "APPEND BITCOUNT BITFIELD BITFIELD_RO BITPOS DECR DECRBY DUMP EXPIRE EXPIREAT EXPIRETIME "
    "GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GET GETBIT GETDEL GETEX GETRANGE GETSET HDEL "
    "HEXISTS HEXPIRE HGET HGETALL HGETDEL HGETEX HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET "
    "HRANDFIELD HSCAN HSET HSETEX HSETNX HSTRLEN HTTL HVALS INCR INCRBY INCRBYFLOAT LINDEX "
    "LINSERT LLEN LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM PERSIST PEXPIRE PEXPIREAT "
    "PEXPIRETIME PFADD PSETEX PTTL RESTORE RPOP RPUSH RPUSHX SADD SCARD SET SETBIT SETEX "
    "SETNX SETRANGE SISMEMBER SMEMBERS SMISMEMBER SORT SORT_RO SPOP SRANDMEMBER SREM SSCAN "
    "STRLEN SUBSTR TTL TYPE XACK XADD XAUTOCLAIM XCLAIM XDEL XLEN XPENDING XRANGE XREVRANGE "
    "XSETID XTRIM ZADD ZCARD ZCOUNT ZINCRBY ZLEXCOUNT ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER "
    "ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANK ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK "
    "ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE "
    "ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZRANGESTORE GEORADIUS GEORADIUSBYMEMBER "
    "PUBLISH SPUBLISH"
)
_TWO_KEYS = "BLMOVE BRPOPLPUSH COPY LMOVE RENAME RENAMENX RPOPLPUSH SMOVE"
_ALL_KEYS = (
    "DEL EXISTS MGET PFCOUNT PFMERGE PSUBSCRIBE SDIFF SDIFFSTORE SINTER SINTERSTORE "
    "SUBSCRIBE SSUBSCRIBE SUNION SUNIONSTORE TOUCH UNLINK WATCH"
)

_ALL_BUT_LAST_KEYS = "BLPOP BRPOP BZPOPMIN BZPOPMAX"
_PAIR_KEYS = "MSET MSETNX"
_NUMKEYS_KEYS = "EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO"
_HIDDEN_ARGS = "AUTH HELLO MIGRATE"
_SUBCOMMANDS = (
    "ACL CLIENT CLUSTER COMMAND CONFIG FUNCTION LATENCY MEMORY MODULE OBJECT "
    "SCRIPT SLOWLOG XGROUP XINFO"
)

_KEYS: dict[str, int] = {}
for _names, _spec in (
    (_FIRST_KEY, 1),
    (_TWO_KEYS, 2),
    (_ALL_KEYS, _ALL),
    (_ALL_BUT_LAST_KEYS, _ALL_BUT_LAST),
    (_PAIR_KEYS, _PAIRS),
    (_NUMKEYS_KEYS, _NUMKEYS),
    (_HIDDEN_ARGS, _HIDDEN),
    (_SUBCOMMANDS, _SUBCOMMAND),
):
    _KEYS.update(dict.fromkeys(_names.split(), _spec))


def _token(arg: Any) -> str:
    """A key or keyword as text, cut to :data:`MAX_TOKEN` characters."""
    if isinstance(arg, str):
        return arg[:MAX_TOKEN]
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg[:MAX_TOKEN]).decode("utf-8", "replace")
    if isinstance(arg, (int, float)):
        return str(arg)[:MAX_TOKEN]
    return "?"


_NAMES: dict[Any, str] = {}
"""Command names as sent (``str`` or ``bytes``) and as recorded; bounded by :data:`_MAX_NAMES`."""
_MAX_NAMES = 512


def command_name(first: Any) -> str:
    """The command's name, upper-cased (``"GET"``, ``"SCRIPT LOAD"``)."""
    kind = type(first)
    if kind is str or kind is bytes:
        name = _NAMES.get(first)
        if name is None:
            name = _token(first)[:_MAX_NAME].upper()
            if len(_NAMES) < _MAX_NAMES and len(first) <= _MAX_NAME:
                _NAMES[first] = name
        return name
    return _token(first)[:_MAX_NAME].upper()


def _is_keyword(arg: Any) -> bool:
    text = _token(arg)
    return 0 < len(text) <= 32 and text.replace("-", "").replace("_", "").isalpha()


def query_text(args: Sequence[Any], raw: bool = False, name: str | None = None) -> str:
    """``db.query.text`` for one command: the name and keys as sent, every value as ``?``.

    ``AUTH``, ``HELLO`` and ``MIGRATE`` keep only their name (credentials never appear), even
    when *raw* asks for values to be kept for every other command. *name* is
    :func:`command_name` of ``args[0]`` when the caller has it already.
    """
    if name is None:
        name = command_name(args[0])
    count = len(args)
    if " " in name:  # "SCRIPT LOAD", "CONFIG SET": the subcommand is already in the name
        spec = _KEYS.get(name.split(" ", 1)[0], 0)
        if spec == _HIDDEN:
            return name
        spec = _SUBCOMMAND_DONE
    else:
        spec = _KEYS.get(name, 0)
        if spec == _HIDDEN:
            return name
    if spec == 1 and not raw and count <= MAX_ARGS + 1:  # the common case: GET k, SET k v
        if count == 1:
            return name
        key = args[1]
        text = key[:MAX_TOKEN] if type(key) is str else _token(key)
        if count == 2:
            return f"{name} {text}"
        return f"{name} {text}" + " ?" * (count - 2)
    parts = [name]
    rest = args[1 : MAX_ARGS + 1]
    if raw:
        parts.extend(_token(a) for a in rest)
    elif spec == _SUBCOMMAND_DONE:
        parts.extend("?" for _ in rest)
    elif spec == _SUBCOMMAND:
        if rest and _is_keyword(rest[0]):
            parts.append(_token(rest[0]).upper())
            parts.extend("?" for _ in rest[1:])
        else:
            parts.extend("?" for _ in rest)
    else:
        parts.extend(_render(spec, args))
    if count > MAX_ARGS + 1:
        parts.append("…")
    return " ".join(parts)


def _render(spec: int, args: Sequence[Any]) -> list[str]:
    count = min(len(args) - 1, MAX_ARGS)
    if spec > 0:
        return [_token(args[i]) if i <= spec else "?" for i in range(1, count + 1)]
    if spec == _ALL:
        return [_token(args[i]) for i in range(1, count + 1)]
    if spec == _ALL_BUT_LAST:
        last = len(args) - 1
        return [_token(args[i]) if i < last else "?" for i in range(1, count + 1)]
    if spec == _PAIRS:
        return [_token(args[i]) if i % 2 == 1 else "?" for i in range(1, count + 1)]
    if spec == _NUMKEYS:
        try:
            numkeys = int(args[2])
        except (IndexError, TypeError, ValueError):
            numkeys = 0
        return [
            _token(args[i]) if i == 2 or 3 <= i < 3 + numkeys else "?" for i in range(1, count + 1)
        ]
    return ["?"] * count


def pipeline_text(commands: Sequence[Sequence[Any]], raw: bool = False) -> str:
    """``db.query.text`` for a pipeline: one command per line, as :func:`query_text`."""
    lines = [query_text(args, raw) for args in commands[:MAX_COMMANDS] if args]
    if len(commands) > MAX_COMMANDS:
        lines.append("…")
    return "\n".join(lines)
