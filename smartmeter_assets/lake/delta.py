"""Open and read a lake Delta table, on a local folder or S3 alike (delta-rs, no Spark).

The writers (the stream job) and the readers (Dagster's observable assets, checks, reports) go
through these two functions so that a table that does not exist yet reads as empty with its
contract schema instead of each caller catching delta-rs' "not a table" error its own way.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from smartmeter_assets.contracts import LakeTable
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake


def table_uri(lake: Lake, table: LakeTable) -> str:
    return lake.url(table.name)


def open_table(lake: Lake, table: LakeTable) -> DeltaTable | None:
    """The table's latest version, or None when nothing was ever committed there."""
    # Not ``DeltaTable.is_deltatable``: it holds the GIL while it waits on S3, which deadlocks
    # against an S3 server running in this process (moto in the tests).
    try:
        return DeltaTable(table_uri(lake, table), storage_options=lake.storage_options() or None)
    except TableNotFoundError:
        return None


def arrow_dataset(lake: Lake, delta: DeltaTable, location: str) -> pads.Dataset:
    """The Delta table's current files as an Arrow dataset read through pyarrow's own filesystem.

    Not delta-rs' default (its Python filesystem handler, called from pyarrow's C++ threads): with
    that, a process that read a table aborts at interpreter exit about one run in ten
    (delta-io/delta-rs#2184, see :mod:`smartmeter_assets.exit_status`). pyarrow's local and S3
    filesystems read the same files, with the same credentials as the staged sources.
    ``location`` is the table's folder as :meth:`Lake.url` spells it.
    """
    filesystem, _ = lake.filesystem()
    root = location.removeprefix("s3://") if lake.is_s3 else location
    return delta.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(root, filesystem))


def table_dataset(lake: Lake, table: LakeTable) -> pads.Dataset | None:
    """The table as an Arrow dataset (:func:`arrow_dataset`), or None when it does not exist yet."""
    delta = open_table(lake, table)
    return None if delta is None else arrow_dataset(lake, delta, table_uri(lake, table))


def read_table(
    lake: Lake,
    table: LakeTable,
    columns: Sequence[str] | None = None,
    filter: pc.Expression | None = None,
) -> pa.Table:
    """The table's rows (optionally some columns, optionally filtered), cast to the contract schema.

    Partition columns in ``filter`` prune files before any Parquet is opened.
    """
    schema = lake_arrow_schema(table)
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    dataset = table_dataset(lake, table)
    if dataset is None:
        return schema.empty_table()
    data = dataset.to_table(columns=list(schema.names), filter=filter)
    return data.cast(schema)
