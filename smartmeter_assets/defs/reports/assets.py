"""Report assets downstream of the lake: thin wrappers around :mod:`smartmeter_assets.reports`.

Each report queries the lake with DuckDB, renders its plot, writes ``<name>.png`` and
``<name>.json`` under ``<lake>/reports/`` (what ``smartmeter report`` prints) and shows a preview
table and the plot in the Dagster UI. A report over ``raw/`` fails with a clear message while the
lake holds no readings; an empty ``anomalies/`` is a valid answer (no anomalies) and reports zero.
"""

import time
from datetime import date, timedelta
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from deltalake import write_deltalake
from matplotlib.figure import Figure

from smartmeter_assets.contracts import ALERT_COLUMNS, ALERTS_TABLE, ANOMALIES, RAW, REPORTS_DIR
from smartmeter_assets.defs.kafka.partitions import daily_partitions
from smartmeter_assets.defs.lake.assets import lake_asset_key
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.reports import checks
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.lake.delta import read_delta
from smartmeter_assets.lake.schema import arrow_schema
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports import anomaly_summary as anomalies_report
from smartmeter_assets.reports import forecast, meter_day_detector, peaks, scoring, segments, weather
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
ALERTS_SCHEMA = arrow_schema(ALERT_COLUMNS)


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
def meter_day_alerts(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """Meter-days a fraud team should look at: each meter against its own weeks around the day.

    A partition is a London day. Idempotent: the days of the run are replaced in
    ``<lake>/reports/meter_day_alerts`` (see :mod:`smartmeter_assets.reports.meter_day_detector`).
    """
    window = context.partition_time_window
    first, last = window.start.date(), (window.end - pd.Timedelta(days=1)).date()
    days = _days(first, last)
    connection = lake_connection(lake.lake(), (RAW,))
    ((lake_first, lake_last),) = connection.execute(
        f"SELECT min(reading_date), max(reading_date) FROM {RAW.name}"
    ).fetchall()
    features, read = [], 0
    started = time.monotonic()
    for chunk_first, chunk_last in meter_day_detector.feature_chunks(first, last):
        if lake_first is None or chunk_last < lake_first - timedelta(days=1) or chunk_first > lake_last:
            continue  # the window reaches past the lake's days: nothing to read there
        readings = _meters_as_categories(
            connection.sql(  # a London day can start on the GMT day before; runs cross midnight
                f"SELECT meter_id, timestamp, energy_kwh FROM {RAW.name} WHERE reading_date BETWEEN ? AND ?",
                params=[chunk_first - timedelta(days=1), chunk_last + timedelta(days=1)],
            ).to_arrow_table()
        )
        features.append(meter_day_detector.chunk_features(readings, chunk_first, chunk_last))
        read += len(readings)
        context.log.info(
            f"meter-day detector: features of {chunk_first}..{chunk_last} from {len(readings):,} readings "
            f"({read / max(time.monotonic() - started, 1e-9):,.0f} readings/s so far)"
        )
    result = meter_day_detector.judge_features(
        pd.concat(features, ignore_index=True) if features else pd.DataFrame(), days
    )
    alerts, judged = result.alerts, len(result.meter_days)
    context.log.info(f"meter-day detector: {first}..{last} judged, {judged:,} meter-days, {len(alerts)} alerts")
    table = pa.Table.from_pandas(alerts.astype({"meter_id": str}), schema=ALERTS_SCHEMA, preserve_index=False)
    write_deltalake(
        lake.lake().url(REPORTS_DIR, ALERTS_TABLE),
        table,
        mode="overwrite",
        partition_by=["day"],
        predicate=f"day >= '{first.isoformat()}' AND day <= '{last.isoformat()}'",
        storage_options=lake.lake().storage_options(),
    )
    by_kind = alerts["kind"].value_counts().to_dict() if len(alerts) else {}
    return MaterializeResult(
        metadata={
            "alerts": len(alerts),
            "meter_days_judged": judged,
            "alert_rate": len(alerts) / judged if judged else 0.0,
            "days": len(days),
            "by_kind": MetadataValue.json({str(k): int(v) for k, v in by_kind.items()}),
            "preview": MetadataValue.md(markdown_table(alerts)),
            "location": MetadataValue.path(lake.lake().url(REPORTS_DIR, ALERTS_TABLE)),
        }
    )


def _meters_as_categories(readings: pa.Table) -> pd.DataFrame:
    """The readings for the detector, each meter id one category rather than a string per reading.

    A full-scale month is 3.6 M readings of a few thousand meters: read as strings it took 0.5 s,
    and coding them again in the features 0.6 s more (0.2 s and nothing as categories).
    """
    column = readings.schema.get_field_index("meter_id")
    return readings.set_column(column, "meter_id", pc.dictionary_encode(readings["meter_id"])).to_pandas()


def detector_alerts(lake: Lake) -> pd.DataFrame:
    """Every alert the meter-day detector has written (empty before its first run)."""
    return read_delta(lake, (REPORTS_DIR, ALERTS_TABLE), ALERTS_SCHEMA).to_pandas()


@asset(
    deps=[ANOMALIES_KEY, RAW_KEY, AssetKey(ALERTS_TABLE)],
    group_name=GROUP,
    kinds={"duckdb", "python"},
    check_specs=[checks.DETECTOR_GOAL],
)
def anomaly_quality(
    context: AssetExecutionContext, lake: LakeResource, sources: SourceFilesResource
) -> MaterializeResult:
    """Meter-day recall per injected kind, precision and alert rate: the fixed rules beside the detector.

    Ground truth exists only where anomalies were injected (the sample, ``smartmeter inject``);
    without it this reports that nothing could be scored instead of failing. Only London days in
    ``raw/`` are scored (for the detector: only the days it has judged), so a day not streamed yet
    is not counted as missed.
    """
    the_lake = lake.lake()
    connection = _raw_connection(the_lake)
    try:
        truth = read_ground_truth(sources.path())
    except GroundTruthError as error:
        summary: dict[str, Any] = {"scored": False, "reason": str(error)}
        write_report(the_lake, "anomaly_quality", figure_png(_no_truth_figure()), summary)
        return MaterializeResult(
            metadata={"scored": False, "reason": str(error)}, check_results=[checks.detector_result(None)]
        )
    all_meter_days = scoring.lake_meter_days(connection)
    raw_days = set(all_meter_days["day"])
    flagged = connection.sql(
        f"SELECT meter_id, timestamp, unnest(anomaly_reasons) AS reason FROM {ANOMALIES.name}"
    ).df()
    processed = {
        date.fromisoformat(key) for key in context.instance.get_materialized_partitions(AssetKey(ALERTS_TABLE))
    }
    detector_days = raw_days & processed
    rule_scores = scoring.score_alerts(truth, scoring.rule_alerts(flagged), len(all_meter_days), raw_days)
    detector_scores = scoring.score_alerts(
        truth,
        detector_alerts(the_lake),
        int(all_meter_days["day"].isin(detector_days).sum()),
        detector_days,
    )
    table = pd.concat(
        [
            scoring.scores_table(rule_scores).assign(detector="fixed rules"),
            scoring.scores_table(detector_scores).assign(detector="meter-day detector"),
        ],
        ignore_index=True,
    )
    summary = {
        "scored": True,
        "days_scored_rules": len(raw_days),
        "days_scored_detector": len(detector_days),
        "fixed_rules": scoring.scores_summary(rule_scores),
        "detector": scoring.scores_summary(detector_scores),
    }
    published = _publish(the_lake, "anomaly_quality", _quality_figure(table), summary, table)
    detector, rules = summary["detector"], summary["fixed_rules"]
    return MaterializeResult(
        metadata={
            **published.metadata,
            "detector_recall": detector["recall"] or 0.0,
            "detector_precision": detector["precision"] or 0.0,
            "detector_alert_rate": detector["alert_rate"] or 0.0,
            "rules_recall": rules["recall"] or 0.0,
            "rules_precision": rules["precision"] or 0.0,
            "rules_alert_rate": rules["alert_rate"] or 0.0,
        },
        check_results=[checks.detector_result(detector)],
    )


def _no_truth_figure() -> Figure:
    figure = Figure(figsize=(6, 2))
    axes = figure.subplots()
    axes.axis("off")
    axes.text(0.5, 0.5, "no ground truth with this data: not scored", ha="center", va="center")
    return figure


def _quality_figure(table: pd.DataFrame) -> Figure:
    """Recall per kind and overall precision, fixed rules against the meter-day detector."""
    figure = Figure(figsize=(12, 4))
    panels = figure.subplots(1, 2, sharey=True)
    for axes, measure in zip(panels, ("recall", "precision"), strict=True):
        pivot = table.pivot(index="kind", columns="detector", values=measure).astype(float).fillna(0.0)
        width = 0.8 / len(pivot.columns)
        for offset, detector in enumerate(pivot.columns):
            axes.bar([i + offset * width for i in range(len(pivot))], pivot[detector], width=width, label=detector)
        axes.set_xticks([i + width / 2 for i in range(len(pivot))])
        axes.set_xticklabels(pivot.index, rotation=20, fontsize="small")
        axes.set_title(f"{measure} (meter-day alerts)")
        axes.legend(fontsize="small")
    panels[0].axhline(checks.RECALL_GOAL, linestyle="--", color="black", linewidth=1)
    return figure


@asset(deps=[RAW_KEY], group_name=GROUP, kinds={"duckdb", "scikit-learn"}, check_specs=[checks.FORECAST_SKILL_GOAL])
def demand_forecast(lake: LakeResource) -> MaterializeResult:
    """Day-ahead half-hourly demand per ACORN category and for the portfolio, against two baselines.

    With too little history it says "not computed: needs N days, has M" and does not fail.
    Observed weather stands in for a weather forecast (see :mod:`smartmeter_assets.reports.forecast`).
    """
    series = forecast.segment_series(_raw_connection(lake.lake()))
    try:
        result = forecast.backtest(series)
    except forecast.NotEnoughHistoryError as error:
        summary = forecast.not_computed(error)
        write_report(lake.lake(), "demand_forecast", figure_png(_not_computed_figure(str(error))), summary)
        return MaterializeResult(
            metadata={"computed": False, "reason": str(error)}, check_results=[checks.forecast_skill_result(summary)]
        )
    summary = result.summary()
    published = _publish(lake.lake(), "demand_forecast", forecast.forecast_figure(result), summary, result.metrics)
    portfolio = summary["levels"][forecast.PORTFOLIO]
    return MaterializeResult(
        metadata={
            **published.metadata,
            "computed": True,
            "portfolio_mape": portfolio["mape"],
            "portfolio_seasonal_naive_mape": portfolio["seasonal_naive_mape"],
            "portfolio_persistence_mape": portfolio["persistence_mape"],
        },
        check_results=[checks.forecast_skill_result(summary)],
    )


def _not_computed_figure(reason: str) -> Figure:
    figure = Figure(figsize=(6, 2))
    axes = figure.subplots()
    axes.axis("off")
    axes.text(0.5, 0.5, reason, ha="center", va="center")
    return figure


REPORT_ASSETS = [
    demand_by_segment,
    peak_demand,
    weather_sensitivity,
    anomaly_summary,
    meter_day_alerts,
    anomaly_quality,
    demand_forecast,
]
