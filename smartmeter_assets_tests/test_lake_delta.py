"""The one Delta access module: a missing table reads as empty with its schema, wherever it lives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from smartmeter_assets.contracts import ALERT_COLUMNS, ALERTS_TABLE, PROGRESS_DIR, RAW, REPORTS_DIR
from smartmeter_assets.lake.delta import open_delta, read_delta, read_table
from smartmeter_assets.lake.progress import PROGRESS_SCHEMA, read_progress
from smartmeter_assets.lake.schema import arrow_schema, lake_arrow_schema
from smartmeter_assets.lake.storage import Lake

ALERTS_SCHEMA = arrow_schema(ALERT_COLUMNS)


def test_a_table_never_written_opens_as_none_and_reads_as_empty_with_its_schema(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert open_delta(lake, REPORTS_DIR, ALERTS_TABLE) is None
    alerts = read_delta(lake, (REPORTS_DIR, ALERTS_TABLE), ALERTS_SCHEMA)
    assert alerts.num_rows == 0 and alerts.schema.equals(ALERTS_SCHEMA)
    assert read_progress(lake).schema.equals(PROGRESS_SCHEMA)
    raw = read_table(lake, RAW, columns=["meter_id", "timestamp"])
    assert raw.num_rows == 0 and raw.schema.names == ["meter_id", "timestamp"]
    assert raw.schema.field("timestamp").type == lake_arrow_schema(RAW).field("timestamp").type
    assert not (tmp_path / PROGRESS_DIR).exists()  # reading creates nothing


def test_rows_come_back_in_contract_order_and_types(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    stored = pa.table({"day": [date(2013, 1, 7)], "meter_id": ["MAC000002"], "kind": ["flat_line"],
                       "evidence": ["x"], "score": pa.array([0.5], pa.float32())})  # fmt: skip
    write_deltalake(lake.url(REPORTS_DIR, ALERTS_TABLE), stored)
    alerts = read_delta(lake, (REPORTS_DIR, ALERTS_TABLE), ALERTS_SCHEMA)
    assert alerts.schema.equals(ALERTS_SCHEMA)
    assert alerts.to_pylist() == [
        {"meter_id": "MAC000002", "day": date(2013, 1, 7), "kind": "flat_line", "score": 0.5, "evidence": "x"}
    ]


def test_a_column_added_later_reads_as_null_any_other_missing_column_is_an_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    old = pa.table({"meter_id": ["MAC000002"], "day": [date(2013, 1, 7)], "kind": ["flat_line"], "score": [0.5]})
    write_deltalake(lake.url(REPORTS_DIR, ALERTS_TABLE), old)
    read = read_delta(lake, (REPORTS_DIR, ALERTS_TABLE), ALERTS_SCHEMA, added_later=("evidence",))
    assert read.column("evidence").to_pylist() == [None]
    with pytest.raises(pa.ArrowInvalid, match="evidence"):
        read_delta(lake, (REPORTS_DIR, ALERTS_TABLE), ALERTS_SCHEMA)
