"""Checks the publish path runs on itself, each day, as part of the materialization.

Declared as ``check_specs`` on the assets (so nothing else needs wiring): the enrichment keeps
every staged reading exactly once, and the publish record a re-publish relies on was written and
reads back as the day's latest.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec

from smartmeter_assets.contracts import READING_KEY
from smartmeter_assets.kafka.publish import published_days
from smartmeter_assets.lake.storage import Lake

EVERY_READING_KEPT = AssetCheckSpec(
    "every_reading_kept",
    asset="enriched_readings",
    description="The day's enriched rows are its staged readings, each once (unknown households and "
    "missing weather are kept with nulls, never dropped).",
)
PUBLISH_RECORDED = AssetCheckSpec(
    "publish_recorded",
    asset="smart_meter_topic",
    description="The day's publish record (offsets per partition) reads back from <lake>/published as the "
    "latest publish of the day, with every published record.",
)


def every_reading_kept(staged: pd.DataFrame, enriched: pd.DataFrame) -> AssetCheckResult:
    duplicated = int(enriched.duplicated(list(READING_KEY)).sum())
    missing_meters = sorted(set(staged["meter_id"].astype(str)) - set(enriched["meter_id"]))
    passed = len(staged) == len(enriched) and duplicated == 0 and not missing_meters
    return AssetCheckResult(
        check_name=EVERY_READING_KEPT.name,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "staged_readings": len(staged),
            "enriched_rows": len(enriched),
            "duplicated_keys": duplicated,
            "meters_missing": ", ".join(missing_meters[:20]),
        },
    )


def publish_recorded(lake: Lake, day: date, run_id: str, published: int) -> AssetCheckResult:
    latest = published_days(lake)
    rows = latest[latest["day"] == day] if not latest.empty else latest
    recorded = int(rows["records"].sum()) if len(rows) else 0
    runs = sorted(set(rows["run_id"])) if len(rows) else []
    return AssetCheckResult(
        check_name=PUBLISH_RECORDED.name,
        passed=runs == [run_id] and recorded == published,
        severity=AssetCheckSeverity.ERROR,
        metadata={"recorded_records": recorded, "published_records": published, "latest_run": ", ".join(runs)},
    )
