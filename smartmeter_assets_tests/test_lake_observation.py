"""What the lake looks like, read from Delta logs (the reconciliation rule: test_reconciliation_keys)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from smartmeter_assets.contracts import ANOMALIES, RAW, REJECTED
from smartmeter_assets.lake.observation import observe_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets_tests.lake_builder import raw_row, rejected_row, write_rows


def test_a_table_never_written_is_observed_as_empty(tmp_path: Path) -> None:
    seen = observe_table(Lake(str(tmp_path)), RAW)
    assert seen.version is None and seen.rows == 0 and seen.data_version == "empty"


def test_rows_files_versions_newest_event_and_per_day_counts(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    write_rows(lake, RAW, [raw_row("A", datetime(2013, 1, 1, 0, 30), 0.2), raw_row("B", datetime(2013, 1, 1, 1), 0.3)])
    write_rows(lake, RAW, [raw_row("A", datetime(2013, 1, 2, 23, 30), 0.1)])
    seen = observe_table(lake, RAW)
    assert seen.version == 1 and seen.data_version == "1"
    assert seen.rows == 3 and seen.files == 2 and seen.bytes > 0
    assert seen.newest_event_time == "2013-01-02 23:30:00"
    assert seen.rows_per_partition == {"2013-01-01": 2, "2013-01-02": 1}
    assert observe_table(lake, ANOMALIES).rows == 0


def test_rejected_is_observed_by_ingest_date(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    write_rows(lake, REJECTED, [rejected_row(None, None, "unparseable_json", date(2026, 1, 1))])
    assert observe_table(lake, REJECTED).rows_per_partition == {"2026-01-01": 1}
