"""The stream's per-batch figures, kept as a small Delta table in the lake.

Why in the lake: the stream runs for days in its own process; the checks (watermark drops), the
UI and ``smartmeter run`` need its figures after the fact, on a laptop and on S3 alike. The lake
writer records a batch's figures inside the batch, before its raw/ commit, with an app transaction
(writer = query + checkpoint identity, batch id) like the data tables: a replayed batch is
recorded once, and a crash can never lose or zero a committed batch's figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import CommitProperties, Transaction, write_deltalake

from smartmeter_assets.contracts import PROGRESS_COLUMNS, PROGRESS_DIR
from smartmeter_assets.lake.delta import open_delta, read_delta
from smartmeter_assets.lake.schema import arrow_schema
from smartmeter_assets.lake.storage import Lake

PROGRESS_SCHEMA = arrow_schema(PROGRESS_COLUMNS)


def _app_id(writer_id: str) -> str:
    return f"{writer_id}:{PROGRESS_DIR}"


def record_batch(lake: Lake, writer_id: str, query_name: str, figures: Mapping[str, object]) -> bool:
    """Append one batch's figures; False when this batch was already recorded (a replay).

    ``duration_ms`` and ``rows_per_second`` default to what ``step_ms`` says the batch took so far.
    """
    uri = lake.url(PROGRESS_DIR)
    options = lake.storage_options() or None
    batch_id = int(figures["batch_id"])  # type: ignore[arg-type]
    existing = open_delta(lake, PROGRESS_DIR)
    if existing is not None:
        done = existing.transaction_version(_app_id(writer_id))
        if done is not None and done >= batch_id:
            return False
    row: dict[str, object] = {name: figures.get(name) for name in PROGRESS_SCHEMA.names}
    elapsed_ms = sum(int(v) for v in dict(figures.get("step_ms") or {}).values())  # type: ignore[call-overload]
    duration_ms = int(figures.get("duration_ms") or elapsed_ms)  # type: ignore[call-overload]
    input_rows = int(figures.get("input_rows") or 0)  # type: ignore[call-overload]
    row.update(
        query_name=query_name,
        writer_id=writer_id,
        duration_ms=duration_ms,
        rows_per_second=figures.get("rows_per_second")
        or (round(input_rows * 1000 / duration_ms, 1) if duration_ms else 0.0),
        batch_id=batch_id,
        recorded_at=datetime.now(UTC).replace(tzinfo=None),
        offsets=json.dumps({str(k): v for k, v in dict(figures.get("offsets") or {}).items()}),  # type: ignore[call-overload]
        newest_event_time=None if figures.get("newest_event_time") is None else str(figures["newest_event_time"]),
    )
    write_deltalake(
        uri,
        pa.Table.from_pylist([row], schema=PROGRESS_SCHEMA),
        mode="append",
        storage_options=options,
        commit_properties=CommitProperties(app_transactions=[Transaction(_app_id(writer_id), batch_id)]),
    )
    return True


def read_progress(lake: Lake) -> pa.Table:
    """Every recorded batch (empty before the first)."""
    return read_delta(lake, PROGRESS_DIR, PROGRESS_SCHEMA)
