"""A reading's key, (meter_id, timestamp as published), spelled and digested one way everywhere.

Why one module: the publish records a digest of the keys it sent, and the reconciliation
recomputes that digest from the staged day to know whether the staged day still *is* the list of
published keys. Both sides must spell a key identically (the message's ``TIMESTAMP_FORMAT`` text,
which ``rejected/`` also keeps) and digest it with the same, version-stable function: SHA-256 of
the keys sorted bytewise, one per line. DuckDB does the sort and the hash (a 270k-reading day in
a fraction of a second), not a Python loop.
"""

from __future__ import annotations

import pyarrow as pa

from smartmeter_assets.contracts import TIMESTAMP_FORMAT
from smartmeter_assets.lake import query_engine


def key_text_sql(stamp_text: str) -> str:
    """One key as text, ``meter_id timestamp``, with the stamp's text given by ``stamp_text``."""
    return f"meter_id || ' ' || {stamp_text}"


#: One key as text: ``meter_id timestamp`` (a meter id has no space, the stamp has exactly one).
KEY_SQL = key_text_sql("timestamp")
#: The digest of a set of keys (a DuckDB aggregate over columns meter_id and timestamp, both text).
DIGEST_SQL = f"sha256(coalesce(string_agg({KEY_SQL}, chr(10) ORDER BY {KEY_SQL}), ''))"


def stamp_text_sql(column: str) -> str:
    """A DuckDB expression giving a TIMESTAMP column as the published text."""
    return f"strftime({column}, '{TIMESTAMP_FORMAT}')"


def key_digest(keys: pa.Table) -> str:
    """The digest of ``keys`` (columns ``meter_id`` and ``timestamp``, the latter as published text)."""
    with query_engine.connect() as con:  # one day's keys: the default bound is ample
        con.register("keys", keys.select(["meter_id", "timestamp"]))
        return str(con.execute(f"SELECT {DIGEST_SQL} FROM keys").fetchone()[0])  # type: ignore[index]
