"""Materialize every report in two runs, for ``smartmeter run`` and anyone scripting the reports.

The meter-day detector is daily-partitioned; it runs once over every day ``raw/`` holds (a single
run, thanks to its single-run backfill policy), then the unpartitioned reports run together, so
``anomaly_quality`` scores the detector on the days just judged.
"""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.reports.assets import REPORT_ASSETS
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.lake_query import lake_connection

ALERTS_KEY = AssetKey("meter_day_alerts")
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def materialize_reports(defs: Definitions, instance: DagsterInstance, lake: Lake) -> list[ExecuteInProcessResult]:
    """Run the detector over the lake's days, then every other report; failures are in the results."""
    job = defs.resolve_implicit_global_asset_job_def()
    checks = defs.resolve_asset_graph().asset_check_keys
    report_keys = {a.key for a in REPORT_ASSETS}
    ((first, last),) = (
        lake_connection(lake, (RAW,)).execute(f"SELECT min(reading_date), max(reading_date) FROM {RAW.name}").fetchall()
    )
    results = []
    if first is not None:
        detector = job.get_subset(
            asset_selection={ALERTS_KEY}, asset_check_selection={c for c in checks if c.asset_key == ALERTS_KEY}
        )
        results.append(
            detector.execute_in_process(
                instance=instance,
                tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
                raise_on_error=False,
            )
        )
    others = report_keys - {ALERTS_KEY}
    reports = job.get_subset(asset_selection=others, asset_check_selection={c for c in checks if c.asset_key in others})
    results.append(reports.execute_in_process(instance=instance, raise_on_error=False))
    return results
