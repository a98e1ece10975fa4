"""The lake checked against itself: aggregates recomputed from ``raw/`` in one batch query.

An independent second implementation on purpose (DuckDB SQL over the Arrow data, not the
stream's pyarrow window code), so the kill test and the reconciliation check compare two ways of
computing the same thing rather than one function with itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import AGGREGATE_KEYS, AGGREGATED, RAW
from smartmeter_assets.lake import query_engine
from smartmeter_assets.lake.delta import read_table, table_dataset
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import DEFAULT_QUERY_MEMORY_LIMIT
from smartmeter_assets.stream.window import AGGREGATE_INPUT_COLUMNS, WindowSpec

_KEYS = ", ".join(AGGREGATE_KEYS)


def aggregates_from_raw(raw: pa.Table, spec: WindowSpec, memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT) -> pa.Table:
    """What ``aggregated/`` must hold for these readings, with no watermark drop."""
    slide = int(spec.slide.total_seconds() * 1_000_000)
    length = int(spec.length.total_seconds() * 1_000_000)
    readings = raw.select(list(AGGREGATE_INPUT_COLUMNS))  # noqa: F841 - read by DuckDB by name
    query = f"""
        WITH stamped AS (SELECT *, epoch_us(timestamp) AS us FROM readings),
        windowed AS (
            SELECT stamped.*, us - us % {slide} - k * {slide} AS start_us
            FROM stamped, range(0, {math.ceil(length / slide)}) AS steps(k)
        )
        SELECT make_timestamp(start_us) AS window_start,
               make_timestamp(start_us + {length}) AS window_end,
               {_KEYS},
               sum(energy_kwh) AS total_energy_kwh,
               avg(energy_kwh) AS avg_energy_kwh,
               max(energy_kwh) AS max_energy_kwh,
               count(*) AS reading_count,
               count(DISTINCT meter_id) AS distinct_meters,
               avg(temperature) AS avg_temperature,
               sum(CASE WHEN is_anomaly THEN 1 ELSE 0 END) AS anomaly_count,
               CAST(make_timestamp(start_us) AS DATE) AS window_date
        FROM windowed
        WHERE us < start_us + {length}
        GROUP BY ALL
    """
    with query_engine.connect(memory_limit) as connection:
        connection.execute("SET threads TO 1")
        result = connection.sql(query).to_arrow_table()
    return result.cast(lake_arrow_schema(AGGREGATED))


def _sorted(table: pa.Table) -> pa.Table:
    order = ["window_start", *AGGREGATE_KEYS]
    return table.sort_by([(name, "ascending") for name in order])


def aggregate_differences(expected: pa.Table, actual: pa.Table, tolerance: float = 1e-9) -> list[str]:
    """Human-readable differences between two aggregated tables (empty when they agree).

    Floats are compared relatively: sums over other orders differ in the last bits.
    """
    problems: list[str] = []
    if expected.num_rows != actual.num_rows:
        problems.append(f"{actual.num_rows} aggregate rows, expected {expected.num_rows}")
        return problems
    expected, actual = _sorted(expected), _sorted(actual)
    for name in AGGREGATED.column_names:
        left, right = expected[name], actual[name]
        if pa.types.is_floating(left.type):
            left_values, right_values = left.fill_null(0.0), right.fill_null(0.0)
            scale = pc.max_element_wise(pc.abs(left_values), pa.scalar(1.0))
            gap = pc.max(pc.divide(pc.abs(pc.subtract(left_values, right_values)), scale)).as_py() or 0.0
            nulls_equal = pc.all(pc.equal(pc.is_null(left), pc.is_null(right))).as_py()
            if gap > tolerance or not nulls_equal:
                problems.append(f"{name}: max difference {gap}")
        elif left.to_pylist() != right.to_pylist():
            problems.append(f"{name}: values differ")
    return problems


def reconcile_aggregates(lake: Lake, spec: WindowSpec) -> list[str]:
    """Differences between ``aggregated/`` and a recomputation over ``raw/`` (empty: they agree)."""
    raw = read_table(lake, RAW, columns=list(AGGREGATE_INPUT_COLUMNS))
    return aggregate_differences(aggregates_from_raw(raw, spec, lake.query_memory_limit), read_table(lake, AGGREGATED))


@dataclass(frozen=True)
class DayCount:
    """One window date: the (reading, window) pairs ``raw/`` implies, and what ``aggregated/`` counts."""

    day: str
    from_raw: int
    in_aggregates: int


def reading_counts_by_window_date(lake: Lake, spec: WindowSpec) -> list[DayCount]:
    """Per window date, the reading count ``raw/`` implies against ``sum(reading_count)`` in ``aggregated/``.

    The check that no reading was left out of the aggregates (whatever order days arrived in):
    it reads one column of ``raw/`` and two of ``aggregated/``.
    """
    slide = int(spec.slide.total_seconds() * 1_000_000)
    length = int(spec.length.total_seconds() * 1_000_000)
    raw, aggregated = table_dataset(lake, RAW), table_dataset(lake, AGGREGATED)
    if raw is None and aggregated is None:
        return []
    with query_engine.connect(lake.query_memory_limit) as connection:
        connection.execute("SET threads TO 1")
        # Datasets, not tables: DuckDB reads only the columns the query names, batch by batch.
        connection.register("raw", raw if raw is not None else lake_arrow_schema(RAW).empty_table())
        connection.register(
            "aggregated", aggregated if aggregated is not None else lake_arrow_schema(AGGREGATED).empty_table()
        )
        rows = connection.sql(f"""
            WITH stamped AS (SELECT epoch_us(timestamp) AS us FROM raw),
            implied AS (
                SELECT CAST(make_timestamp(us - us % {slide} - k * {slide}) AS DATE) AS day, count(*) AS n
                FROM stamped, range(0, {math.ceil(length / slide)}) AS steps(k)
                WHERE us < us - us % {slide} - k * {slide} + {length}
                GROUP BY ALL
            ),
            counted AS (SELECT window_date AS day, sum(reading_count) AS n FROM aggregated GROUP BY ALL)
            SELECT CAST(coalesce(implied.day, counted.day) AS VARCHAR), coalesce(implied.n, 0), coalesce(counted.n, 0)
            FROM implied FULL OUTER JOIN counted ON implied.day = counted.day
            ORDER BY 1
        """).fetchall()
    return [DayCount(day, int(from_raw), int(counted)) for day, from_raw, counted in rows]
