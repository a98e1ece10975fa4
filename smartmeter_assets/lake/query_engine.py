"""The one way to open a DuckDB: bounded memory, and a spill folder of its own.

Why bounded: DuckDB's default memory limit is 80% of the machine's RAM, and a big aggregate uses
it. Over the whole history (167.5 M staged readings) the ``readings_quality`` key group-by alone
held 14.7 GB at the default, and 5.4 GB in 57 s (instead of 64 s) with a 3 GB limit: past its limit
DuckDB spills to disk rather than growing. The limit is ``SMARTMETER_QUERY_MEMORY_LIMIT``, carried
by the :class:`~smartmeter_assets.lake.storage.Lake` every query site already holds.

Why a folder of its own: an in-memory DuckDB spills to ``temp_directory``, by default ``.tmp`` in
the working folder: the user's checkout, or a read-only folder in a container. And DuckDB releases
before per-instance file names let two instances spilling in one folder read each other's files
(duckdb/duckdb#15173), while our processes run queries side by side (the detector's process beside
the reconciliation, Dagster runs beside the sensor), all started from the same folder. With 2.0.1
two processes spilling into one folder measured no clash; a folder per connection, under the
system's temp folder and removed once the connection is gone, is safe whatever the version.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref

import duckdb

from smartmeter_assets.settings import DEFAULT_QUERY_MEMORY_LIMIT

SPILL_PREFIX = "smartmeter-duckdb-"


def connect(memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB that spills past ``memory_limit`` into a folder only it uses."""
    spill = tempfile.mkdtemp(prefix=SPILL_PREFIX)
    try:
        connection = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill})
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise
    weakref.finalize(connection, shutil.rmtree, spill, ignore_errors=True)
    return connection
