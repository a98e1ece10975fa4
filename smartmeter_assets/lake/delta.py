"""Open and read the lake's Delta tables, on a local folder or S3 alike (delta-rs, no Spark).

The one home of "a table that does not exist yet reads as empty": every reader and writer of a
Delta table in the lake (the stream's tables, the stream progress, the publish records, the
detector's alerts, maintenance) opens it through :func:`open_delta` and reads it through
:func:`read_delta`, so none catches delta-rs' "not a table" error its own way and every empty
read carries the contract schema. The :class:`~smartmeter_assets.contracts.LakeTable` functions
below are the same two for the stream's tables.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

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


def open_delta(lake: Lake, *location: str) -> DeltaTable | None:
    """The latest version of the table at ``location`` (folders under the lake root), or None
    when nothing was ever committed there."""
    # Not ``DeltaTable.is_deltatable``: it holds the GIL while it waits on S3, which deadlocks
    # against an S3 server running in this process (moto in the tests).
    try:
        return DeltaTable(lake.url(*location), storage_options=lake.storage_options() or None)
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


def delta_dataset(lake: Lake, *location: str) -> pads.Dataset | None:
    """The table at ``location`` as an Arrow dataset (:func:`arrow_dataset`), or None when it does
    not exist yet."""
    delta = open_delta(lake, *location)
    return None if delta is None else arrow_dataset(lake, delta, lake.url(*location))


def read_delta(
    lake: Lake,
    location: str | Sequence[str],
    schema: pa.Schema,
    columns: Sequence[str] | None = None,
    filter: pc.Expression | None = None,
    added_later: Collection[str] = (),
) -> pa.Table:
    """The rows of the table at ``location`` (optionally some columns, optionally filtered), cast
    to ``schema``; an empty table of that schema when the table does not exist yet.

    Partition columns in ``filter`` prune files before any Parquet is opened. Columns named in
    ``added_later`` joined the contract after tables were written: a table without one reads it
    as null. Any other missing column is an error, as before.
    """
    parts = (location,) if isinstance(location, str) else tuple(location)
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    dataset = delta_dataset(lake, *parts)
    if dataset is None:
        return schema.empty_table()
    absent = [name for name in schema.names if name in added_later and name not in dataset.schema.names]
    data = dataset.to_table(columns=[name for name in schema.names if name not in absent], filter=filter)
    for name in absent:
        data = data.append_column(schema.field(name), pa.nulls(data.num_rows, schema.field(name).type))
    return data.select(schema.names).cast(schema)


def open_table(lake: Lake, table: LakeTable) -> DeltaTable | None:
    """:func:`open_delta` of a stream table."""
    return open_delta(lake, table.name)


def table_dataset(lake: Lake, table: LakeTable) -> pads.Dataset | None:
    """:func:`delta_dataset` of a stream table."""
    return delta_dataset(lake, table.name)


def read_table(
    lake: Lake,
    table: LakeTable,
    columns: Sequence[str] | None = None,
    filter: pc.Expression | None = None,
) -> pa.Table:
    """:func:`read_delta` of a stream table, cast to its contract schema."""
    return read_delta(lake, table.name, lake_arrow_schema(table), columns, filter)
