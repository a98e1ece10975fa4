"""Report assets downstream of the lake: thin wrappers around :mod:`smartmeter_assets.reports`.

Each report queries the lake with DuckDB, renders its plot, writes ``<name>.png`` and
``<name>.json`` under ``<lake>/reports/`` (what ``smartmeter report`` prints) and shows a preview
table and the plot in the Dagster UI. A report over ``raw/`` fails with a clear message while the
lake holds no readings; an empty ``anomalies/`` is a valid answer (no anomalies) and reports zero.
"""

from datetime import date
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError
from matplotlib.figure import Figure

from smartmeter_assets.contracts import ANOMALIES, RAW, REPORTS_DIR
from smartmeter_assets.defs.kafka.partitions import daily_partitions
from smartmeter_assets.defs.lake.assets import lake_asset_key
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.reports import checks
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports import anomaly_summary as anomalies_report
from smartmeter_assets.reports import forecast, peaks, profile_detector, scoring, segments, weather
from smartmeter_assets.reports.ground_truth import GroundTruthError, read_ground_truth
from smartmeter_assets.reports.lake_query import NoLakeDataError, lake_connection, require_rows
from smartmeter_assets.reports.report_files import (
    figure_png,
    json_ready,
    markdown_image,
    markdown_table,
    write_report,
)

GROUP = "reports"
KINDS = {"duckdb", "python"}
RAW_KEY, ANOMALIES_KEY = lake_asset_key(RAW), lake_asset_key(ANOMALIES)
PROFILE_TABLE = "profile_anomalies"  # Delta table under <lake>/reports/
#: Days judged per read of raw/: each read spans the chunk plus the detector's window on each side,
#: so bigger chunks read less twice but hold more in memory (real data: ~5,500 meters a day).
DETECTOR_CHUNK_DAYS = 14
PROFILE_SCHEMA = pa.schema(
    [
        ("meter_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("energy_kwh", pa.float64()),
        ("expected_kwh", pa.float64()),
        ("score", pa.float64()),
        ("direction", pa.string()),
        ("kind", pa.string()),
        ("reading_date", pa.date32()),
    ]
)


def _raw_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    connection = lake_connection(lake)
    try:
        require_rows(connection, RAW)
    except NoLakeDataError as error:
        raise Failure(description=str(error)) from error
    return connection


def _publish(
    lake: Lake, name: str, figure: Figure, summary: dict[str, Any], preview: pd.DataFrame, **extra: Any
) -> MaterializeResult:
    png = figure_png(figure)
    location = write_report(lake, name, png, summary)
    return MaterializeResult(
        metadata={
            "plot": MetadataValue.md(markdown_image(png, name)),
            "plot_path": MetadataValue.path(location.plot_url),
            "summary_path": MetadataValue.path(location.summary_url),
            "preview": MetadataValue.md(markdown_table(preview)),
            "summary": MetadataValue.json(json_ready(summary)),
            "rows": len(preview),
            **extra,
        }
    )


@asset(deps=[RAW_KEY], group_name=GROUP, kinds=KINDS)
def demand_by_segment(lake: LakeResource) -> MaterializeResult:
    """Consumption by ACORN category and group x temperature band x tariff, per day and overall."""
    demand = segments.demand_by_segment(_raw_connection(lake.lake()))
    summary = demand.summary()
    return _publish(
        lake.lake(), "demand_by_segment", segments.demand_figure(demand), summary, demand.overall,
        total_kwh=summary["total_kwh"], days=summary["days"], segments=summary["segments"],
    )  # fmt: skip


@asset(deps=[RAW_KEY], group_name=GROUP, kinds=KINDS)
def peak_demand(lake: LakeResource) -> MaterializeResult:
    """Daily peak half-hour and evening-peak share per segment; how ToU shifts load against Std."""
    result = peaks.peak_demand(_raw_connection(lake.lake()))
    return _publish(lake.lake(), "peak_demand", peaks.peak_figure(result), result.summary(), result.segments)


@asset(deps=[RAW_KEY], group_name=GROUP, kinds=KINDS, check_specs=[checks.HEATING_SLOPE_SIGN])
def weather_sensitivity(lake: LakeResource) -> MaterializeResult:
    """Heating slope (kWh per degree below a balance point, with R²), humidity and wind per segment."""
    result = weather.weather_sensitivity(_raw_connection(lake.lake()))
    summary = result.summary()
    published = _publish(lake.lake(), "weather_sensitivity", weather.weather_figure(result), summary, result.fits)
    return MaterializeResult(metadata=published.metadata, check_results=[checks.heating_slope_result(summary)])


@asset(deps=[ANOMALIES_KEY, RAW_KEY], group_name=GROUP, kinds=KINDS)
def anomaly_summary(lake: LakeResource) -> MaterializeResult:
    """Anomalies by meter, reason and day, and the meters that are persistently anomalous."""
    result = anomalies_report.anomaly_summary(lake_connection(lake.lake()))
    summary = result.summary()
    return _publish(
        lake.lake(), "anomaly_summary", anomalies_report.anomaly_figure(result), summary,
        result.by_meter_reason_day, flagged_readings=result.flagged_readings,
        persistent_meters=len(result.persistent_meters),
    )  # fmt: skip


def _days(first: date, last: date) -> list[date]:
    return [d.date() for d in pd.date_range(first, last, freq="D")]


@asset(
    deps=[RAW_KEY],
    group_name=GROUP,
    kinds={"duckdb", "delta"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
)
def profile_anomalies(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """Readings far from their meter's own profile (robust median/MAD, both directions), per day.

    Idempotent: the days of the run are replaced in ``<lake>/reports/profile_anomalies``.
    """
    window = context.partition_time_window
    first, last = window.start.date(), (window.end - pd.Timedelta(days=1)).date()
    days = _days(first, last)
    connection = lake_connection(lake.lake(), (RAW,))
    found = []
    for start in range(0, len(days), DETECTOR_CHUNK_DAYS):
        chunk = days[start : start + DETECTOR_CHUNK_DAYS]
        read_from, _ = profile_detector.window_of(chunk[0])
        _, read_to = profile_detector.window_of(chunk[-1])
        readings = connection.execute(
            f"SELECT meter_id, timestamp, energy_kwh FROM {RAW.name} WHERE reading_date BETWEEN ? AND ?",
            [read_from, read_to],
        ).df()
        readings["meter_id"] = readings["meter_id"].astype("category")  # millions of rows on real data
        found.append(profile_detector.detect_days(readings, chunk))
        context.log.info(f"profile detector: {chunk[0]}..{chunk[-1]} done, {len(found[-1])} detections")
    detections = pd.concat(found, ignore_index=True)
    detections["meter_id"] = detections["meter_id"].astype(str)
    detections["reading_date"] = pd.to_datetime(detections["timestamp"]).dt.date
    table = pa.Table.from_pandas(detections, schema=PROFILE_SCHEMA, preserve_index=False)
    write_deltalake(
        lake.lake().url(REPORTS_DIR, PROFILE_TABLE),
        table,
        mode="overwrite",
        partition_by=["reading_date"],
        predicate=f"reading_date >= '{first.isoformat()}' AND reading_date <= '{last.isoformat()}'",
        storage_options=lake.lake().storage_options(),
    )
    by_kind = detections["kind"].value_counts().to_dict() if len(detections) else {}
    return MaterializeResult(
        metadata={
            "detections": len(detections),
            "days": len(days),
            "by_kind": MetadataValue.json({str(k): int(v) for k, v in by_kind.items()}),
            "preview": MetadataValue.md(markdown_table(detections)),
            "location": MetadataValue.path(lake.lake().url(REPORTS_DIR, PROFILE_TABLE)),
        }
    )


def profile_detections(lake: Lake) -> pd.DataFrame:
    """Everything the profile detector has written (empty before its first run)."""
    try:
        table = DeltaTable(lake.url(REPORTS_DIR, PROFILE_TABLE), storage_options=lake.storage_options())
    except TableNotFoundError:
        return PROFILE_SCHEMA.empty_table().to_pandas()
    return table.to_pandas()


@asset(
    deps=[ANOMALIES_KEY, RAW_KEY, AssetKey("profile_anomalies")],
    group_name=GROUP,
    kinds={"duckdb", "python"},
    check_specs=[checks.PROFILE_DETECTOR_GOAL],
)
def anomaly_quality(
    context: AssetExecutionContext, lake: LakeResource, sources: SourceFilesResource
) -> MaterializeResult:
    """Precision, recall and F1 per injected kind: the stream's fixed rules beside the profile detector.

    Ground truth exists for the generated sample only; with real files this reports that nothing
    could be scored instead of failing. Only days present in ``raw/`` are scored (for the profile
    detector: only days it has processed), so a day not streamed yet is not counted as missed.
    """
    the_lake = lake.lake()
    connection = _raw_connection(the_lake)
    try:
        truth = read_ground_truth(sources.path())
    except GroundTruthError as error:
        summary: dict[str, Any] = {"scored": False, "reason": str(error)}
        write_report(the_lake, "anomaly_quality", figure_png(_no_truth_figure()), summary)
        return MaterializeResult(
            metadata={"scored": False, "reason": str(error)},
            check_results=[checks.profile_detector_result(None)],
        )
    raw_days = {d for (d,) in connection.execute(f"SELECT DISTINCT reading_date FROM {RAW.name}").fetchall()}
    flagged = connection.sql(
        f"SELECT meter_id, timestamp, unnest(anomaly_reasons) AS reason FROM {ANOMALIES.name}"
    ).df()
    processed = {
        date.fromisoformat(key) for key in context.instance.get_materialized_partitions(AssetKey("profile_anomalies"))
    }
    rule_scores = scoring.score_detections(scoring.within_days(truth, raw_days), scoring.rule_detections(flagged))
    detections = profile_detections(the_lake)
    profile_scores = scoring.score_detections(
        scoring.within_days(truth, raw_days & processed),
        detections[detections["reading_date"].isin(raw_days & processed)],
    )
    table = pd.concat(
        [
            scoring.scores_table(rule_scores).assign(detector="fixed rules"),
            scoring.scores_table(profile_scores).assign(detector="profile (median/MAD)"),
        ],
        ignore_index=True,
    )
    summary = {
        "scored": True,
        "days_scored_rules": len(raw_days),
        "days_scored_profile": len(raw_days & processed),
        "rules": {s.kind: s.as_dict() for s in rule_scores},
        "profile": {s.kind: s.as_dict() for s in profile_scores},
    }
    overall = summary["profile"][scoring.OVERALL]
    published = _publish(the_lake, "anomaly_quality", _quality_figure(table), summary, table)
    return MaterializeResult(
        metadata={
            **published.metadata,
            "profile_precision": overall["precision"] or 0.0,
            "profile_recall": overall["recall"] or 0.0,
            "rules_precision": summary["rules"][scoring.OVERALL]["precision"] or 0.0,
            "rules_recall": summary["rules"][scoring.OVERALL]["recall"] or 0.0,
        },
        check_results=[checks.profile_detector_result(overall)],
    )


def _no_truth_figure() -> Figure:
    figure = Figure(figsize=(6, 2))
    axes = figure.subplots()
    axes.axis("off")
    axes.text(0.5, 0.5, "no ground truth with this data: not scored", ha="center", va="center")
    return figure


def _quality_figure(table: pd.DataFrame) -> Figure:
    """Precision and recall per kind, fixed rules against the profile detector."""
    figure = Figure(figsize=(12, 4))
    panels = figure.subplots(1, 2, sharey=True)
    for axes, measure in zip(panels, ("precision", "recall"), strict=True):
        pivot = table.pivot(index="kind", columns="detector", values=measure).astype(float).fillna(0.0)
        width = 0.8 / len(pivot.columns)
        for offset, detector in enumerate(pivot.columns):
            axes.bar([i + offset * width for i in range(len(pivot))], pivot[detector], width=width, label=detector)
        axes.set_xticks([i + width / 2 for i in range(len(pivot))])
        axes.set_xticklabels(pivot.index, rotation=20, fontsize="small")
        axes.axhline(checks.ANOMALY_GOAL, linestyle="--", color="black", linewidth=1)
        axes.set_title(measure)
        axes.legend(fontsize="small")
    return figure


@asset(deps=[RAW_KEY], group_name=GROUP, kinds={"duckdb", "scikit-learn"}, check_specs=[checks.FORECAST_SKILL_GOAL])
def demand_forecast(lake: LakeResource) -> MaterializeResult:
    """Day-ahead half-hourly demand per ACORN category, backtested against seasonal-naive.

    Observed weather stands in for a weather forecast (see :mod:`smartmeter_assets.reports.forecast`).
    """
    series = forecast.segment_series(_raw_connection(lake.lake()))
    try:
        result = forecast.backtest(series)
    except forecast.NotEnoughHistoryError as error:
        raise Failure(description=str(error)) from error
    summary = result.summary()
    published = _publish(lake.lake(), "demand_forecast", forecast.forecast_figure(result), summary, result.metrics)
    return MaterializeResult(
        metadata={**published.metadata, "mape": summary["mape"], "naive_mape": summary["naive_mape"]},
        check_results=[checks.forecast_skill_result(summary)],
    )


REPORT_ASSETS = [
    demand_by_segment,
    peak_demand,
    weather_sensitivity,
    anomaly_summary,
    profile_anomalies,
    anomaly_quality,
    demand_forecast,
]
