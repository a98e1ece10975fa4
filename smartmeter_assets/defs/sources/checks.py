"""Asset checks on the staged sources: schema, unique keys, value ranges, null rates."""

from collections.abc import Iterator
from dataclasses import dataclass

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from smartmeter_assets.contracts import (
    STAGED_HOUSEHOLD_COLUMNS,
    STAGED_READING_COLUMNS,
    STAGED_WEATHER_DAILY_COLUMNS,
    STAGED_WEATHER_HOURLY_COLUMNS,
    VALID_FROM,
    VALID_UNTIL,
)
from smartmeter_assets.defs.lake.io_manager import read_frame
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.lake import query_engine
from smartmeter_assets.sources.quality import (
    Range,
    Verdict,
    null_rate_verdict,
    range_verdict,
    schema_verdict,
    unique_key_verdict,
)
from smartmeter_assets.sources.staging import staged_dataset

#: Highest plausible half-hourly reading of a home (kWh); real maxima are ~10.
MAX_READING_KWH = 50.0
CHECK_NAMES = ("schema", "unique_key", "value_ranges", "null_rates")


@dataclass(frozen=True)
class FrameRules:
    asset: str
    columns: tuple[str, ...]
    key: list[str]
    ranges: tuple[Range, ...]
    max_null_rates: dict[str, float]


FRAME_RULES = (
    FrameRules(
        "households",
        STAGED_HOUSEHOLD_COLUMNS,
        ["meter_id"],
        (),
        {"meter_id": 0.0, "tariff_type": 0.01, "acorn_category": 0.0, "block": 0.01},
    ),
    FrameRules(
        "weather_hourly",
        STAGED_WEATHER_HOURLY_COLUMNS,
        ["time"],
        (
            Range("temperature", -30, 45),
            Range("humidity", 0, 1),
            Range("wind_speed", 0, 60),
            Range("pressure", 900, 1100),
        ),
        {"time": 0.0, "temperature": 0.02, "humidity": 0.02, "wind_speed": 0.02, "pressure": 0.05},
    ),
    FrameRules(
        "weather_daily",
        STAGED_WEATHER_DAILY_COLUMNS,
        ["day"],
        (Range("cloud_cover", 0, 1), Range("temperature_min", -30, 45), Range("temperature_max", -30, 45)),
        {"day": 0.0, "cloud_cover": 0.05},
    ),
)


def _result(asset: str, name: str, verdict: Verdict) -> AssetCheckResult:
    metadata: dict[str, object] = dict(verdict.figures)
    if verdict.problems:
        metadata["problems"] = "\n".join(verdict.problems)
    return AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=verdict.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def frame_checks(rules: FrameRules) -> AssetChecksDefinition:
    """The four checks of one frame asset, evaluated on one load of the stored frame."""

    @multi_asset_check(
        name=f"{rules.asset}_quality",
        specs=[AssetCheckSpec(name, asset=rules.asset) for name in CHECK_NAMES],
    )
    def _checks(context: AssetCheckExecutionContext, lake: LakeResource) -> Iterator[AssetCheckResult]:
        frame = read_frame(lake.lake(), rules.asset)
        yield _result(rules.asset, "schema", schema_verdict(frame, rules.columns))
        yield _result(rules.asset, "unique_key", unique_key_verdict(frame, rules.key))
        yield _result(rules.asset, "value_ranges", range_verdict(frame, rules.ranges))
        yield _result(rules.asset, "null_rates", null_rate_verdict(frame, rules.max_null_rates))

    return _checks


@multi_asset_check(
    name="readings_quality",
    specs=[AssetCheckSpec(name, asset="readings") for name in CHECK_NAMES],
)
def readings_checks(context: AssetCheckExecutionContext, lake: LakeResource) -> Iterator[AssetCheckResult]:
    """The same four checks over the staged dataset, in DuckDB (it spills; 167 M rows fit)."""
    staged_lake = lake.lake()
    dataset = staged_dataset(staged_lake)
    if dataset is None:
        raise FileNotFoundError("no staged readings in the lake: materialize `readings` first")
    con = query_engine.connect(staged_lake.query_memory_limit)
    con.register("staged", dataset)
    columns = con.sql("SELECT * FROM staged LIMIT 0").df()
    yield _result("readings", "schema", schema_verdict(columns, STAGED_READING_COLUMNS))
    # Two passes over the staged files, not one per figure: the key counts, then every other figure.
    rows, duplicates, nulls, low, high, outside, before, after = con.execute(
        f"""
        WITH per_key AS (SELECT count(*) AS n FROM staged GROUP BY meter_id, timestamp)
        SELECT count(*),
               (SELECT coalesce(sum(n), 0) FROM per_key WHERE n > 1),
               count(*) FILTER (WHERE meter_id IS NULL OR timestamp IS NULL OR energy_kwh IS NULL),
               min(energy_kwh), max(energy_kwh),
               count(*) FILTER (WHERE energy_kwh < 0 OR energy_kwh > {MAX_READING_KWH}),
               count(*) FILTER (WHERE timestamp < TIMESTAMP '{VALID_FROM}'),
               count(*) FILTER (WHERE timestamp >= TIMESTAMP '{VALID_UNTIL}')
        FROM staged
        """
    ).fetchone()
    figures = {"rows": rows}
    yield _result(
        "readings",
        "unique_key",
        Verdict([f"{duplicates} rows share a (meter_id, timestamp)"] if duplicates else [], {**figures}),
    )
    range_problems = []
    if outside:
        range_problems.append(f"{outside} energy values outside [0, {MAX_READING_KWH}] kWh")
    if before or after:
        range_problems.append(f"{before + after} readings outside the dataset span {VALID_FROM}..{VALID_UNTIL}")
    yield _result(
        "readings",
        "value_ranges",
        Verdict(
            range_problems,
            {
                "energy_min": float(low or 0),
                "energy_max": float(high or 0),
                "before_span": before,
                "after_span": after,
            },
        ),
    )
    yield _result(
        "readings",
        "null_rates",
        Verdict([f"{nulls} staged readings have a null field"] if nulls else [], {"null_rows": nulls}),
    )


SOURCE_CHECKS = [*(frame_checks(rules) for rules in FRAME_RULES), readings_checks]
