"""What a lake table looks like right now, read from its Delta log only (no data files opened).

The observable lake assets, the sensor and ``smartmeter run`` all report these figures; reading
the log's file statistics keeps an observation cheap however large the table grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from smartmeter_assets.contracts import LakeTable
from smartmeter_assets.lake.delta import open_table
from smartmeter_assets.lake.storage import Lake


@dataclass(frozen=True)
class TableObservation:
    table: str
    version: int | None  # Delta version: None = never written
    rows: int = 0
    files: int = 0
    bytes: int = 0
    newest_event_time: str | None = None
    newest_file_time: float | None = None  # epoch seconds: when the newest data file was written
    rows_per_partition: dict[str, int] = field(default_factory=dict)

    @property
    def data_version(self) -> str:
        return "empty" if self.version is None else str(self.version)


def observe_table(lake: Lake, table: LakeTable) -> TableObservation:
    return observe_delta(table, open_table(lake, table))


def observe_delta(table: LakeTable, delta: DeltaTable | None) -> TableObservation:
    """:func:`observe_table` on a table already opened (None: never written), for a caller that
    read its version first and observes only when it moved."""
    if delta is None:
        return TableObservation(table=table.name, version=None)
    actions = pa.table(delta.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return TableObservation(table=table.name, version=delta.version())
    names = set(actions.column_names)
    rows = actions["num_records"] if "num_records" in names else pa.array([0] * actions.num_rows)
    newest = None
    event_column = f"max.{table.event_time_column}"
    if event_column in names:
        value = pc.max(actions[event_column]).as_py()
        newest = None if value is None else str(value)
    per_partition: dict[str, int] = {}
    partition_column = f"partition.{table.partition_column}"
    if partition_column in names:
        grouped = pa.table({"p": pc.cast(actions[partition_column], pa.string()), "n": rows}).group_by("p")
        for row in grouped.aggregate([("n", "sum")]).to_pylist():
            per_partition[str(row["p"])] = int(row["n_sum"] or 0)
    return TableObservation(
        table=table.name,
        version=delta.version(),
        rows=int(pc.sum(rows).as_py() or 0),
        files=actions.num_rows,
        bytes=int(pc.sum(actions["size_bytes"]).as_py() or 0),
        newest_event_time=newest,
        newest_file_time=pc.max(actions["modification_time"]).as_py() / 1000.0,
        rows_per_partition=dict(sorted(per_partition.items())),
    )
