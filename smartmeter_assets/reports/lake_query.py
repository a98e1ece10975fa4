"""DuckDB over the lake's Delta tables, without DuckDB's own delta/httpfs extensions.

Those extensions download at run time, which our machines cannot do, so each Delta table is opened
with delta-rs (file:// and s3:// alike, credentials from the lake) and handed to DuckDB as an
Arrow dataset: DuckDB pushes projections and partition filters down into the scan.

A table appears in the lake only once its first row lands. A missing table therefore reads as an
empty table of its contract schema (no anomalies yet is a valid answer); reports that cannot say
anything without readings call :func:`require_rows` and fail with a clear message instead.
"""

from __future__ import annotations

import duckdb
import pyarrow.dataset as pads

from smartmeter_assets.contracts import LAKE_TABLES, LakeTable
from smartmeter_assets.lake import query_engine
from smartmeter_assets.lake.delta import table_dataset
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake


class NoLakeDataError(RuntimeError):
    """The lake has no rows to report on yet (the stream has not landed any)."""


def lake_dataset(lake: Lake, table: LakeTable) -> pads.Dataset:
    """The table as an Arrow dataset; an empty one of the contract schema if it does not exist yet."""
    dataset = table_dataset(lake, table)  # pyarrow's own filesystem: no abort at exit (lake/delta.py)
    return pads.dataset(lake_arrow_schema(table).empty_table()) if dataset is None else dataset


def lake_connection(lake: Lake, tables: tuple[LakeTable, ...] = LAKE_TABLES) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with each lake table registered under its name (``raw``, ...)."""
    connection = query_engine.connect(lake.query_memory_limit)
    for table in tables:
        connection.register(table.name, lake_dataset(lake, table))
    return connection


def require_rows(connection: duckdb.DuckDBPyConnection, table: LakeTable, where: str = "lake") -> int:
    """The table's row count, or :class:`NoLakeDataError` saying what to do when it is empty."""
    ((count,),) = connection.execute(f'SELECT count(*) FROM "{table.name}"').fetchall()
    if count == 0:
        raise NoLakeDataError(
            f"the {where} table {table.name}/ has no rows yet: nothing to report. Let the stream land "
            "data (materialize smart_meter_topic and start the stream) and materialize again."
        )
    return int(count)
