"""Materialize the reports, for ``smartmeter run`` and anyone scripting them.

The meter-day detector is daily-partitioned; it runs once over every day ``raw/`` holds (a single
run, thanks to its single-run backfill policy). The unpartitioned reports run together; those that
read the detector's alerts (``anomaly_quality``) run after it, so they score the days just judged.
:func:`materialize_reports` does all of it in order; ``smartmeter run`` runs the detector in a
process of its own beside the others (:mod:`smartmeter_assets.detector_run`), then its dependents.
"""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult, JobDefinition

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.reports.assets import REPORT_ASSETS
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.lake_query import lake_connection

ALERTS_KEY = AssetKey("meter_day_alerts")
#: Reports ``smartmeter run`` makes in the detector's process, after the detector: with it, the
#: reports whose time grows fastest with the days. At 90 full-scale days the parent spent 52 s on the
#: lake's checks and 30 s on the reports (the forecast 19 s of them) while the detector's process
#: was done after 53 s.
BESIDE_DETECTOR_KEYS = frozenset({AssetKey("demand_forecast")})
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
REPORT_KEYS = frozenset(a.key for a in REPORT_ASSETS)


def detector_dependents(defs: Definitions) -> set[AssetKey]:
    """The reports that read the detector's alerts: they run after it."""
    graph = defs.resolve_asset_graph()
    return {key for key in REPORT_KEYS if ALERTS_KEY in graph.get(key).parent_keys}


def run_detector(defs: Definitions, instance: DagsterInstance, lake: Lake) -> ExecuteInProcessResult | None:
    """The detector (and its checks) over every day ``raw/`` holds, as one run; None while raw/ is empty."""
    ((first, last),) = (
        lake_connection(lake, (RAW,)).execute(f"SELECT min(reading_date), max(reading_date) FROM {RAW.name}").fetchall()
    )
    if first is None:
        return None
    return report_job(defs, {ALERTS_KEY}).execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
        raise_on_error=False,
    )


def run_reports(defs: Definitions, instance: DagsterInstance, keys: set[AssetKey]) -> ExecuteInProcessResult:
    """These unpartitioned reports and their checks, as one run; failures are in the result."""
    return report_job(defs, keys).execute_in_process(instance=instance, raise_on_error=False)


def report_job(defs: Definitions, keys: set[AssetKey]) -> JobDefinition:
    checks = defs.resolve_asset_graph().asset_check_keys
    return defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=keys, asset_check_selection={c for c in checks if c.asset_key in keys}
    )


def materialize_reports(defs: Definitions, instance: DagsterInstance, lake: Lake) -> list[ExecuteInProcessResult]:
    """Run the detector over the lake's days, then every other report; failures are in the results."""
    detector = run_detector(defs, instance, lake)
    others = run_reports(defs, instance, set(REPORT_KEYS - {ALERTS_KEY}))
    return [others] if detector is None else [detector, others]
