"""Event-time windowed aggregates of readings, computed on Arrow (design.md section 2).

Why not Spark's stateful aggregation: the lake must hold each reading once even when it is
published twice, and that is only known after the batch is compared with ``raw/`` on the driver.
So the aggregates are *recomputed* for the windows a batch touches, from ``raw/`` plus the batch's
new readings, and replace those windows in ``aggregated/``. A replayed batch therefore yields the
same rows, and ``aggregated/`` always equals a batch recomputation over ``raw/``.

Windows follow Spark's ``window()``: ``[start, start + length)`` with starts on multiples of the
slide since the epoch; a reading belongs to every window that contains it.

No watermark, on purpose: a bulk backfill consumes Kafka partitions unevenly and a user may
backfill an older range at any time, so "late" says nothing about whether a reading should count.
Every reading that reaches ``raw/`` is counted, whatever order the days arrive in. The work stays
bounded because it is done *per day*: the windows recomputed are, for each ``window_date`` the
batch touches, the span between the first and the last window it touches that day, and only the
readings those windows can hold are read back from ``raw/`` (partition-pruned by day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import AGGREGATE_KEYS, AGGREGATED
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.settings import Settings

#: The raw columns an aggregate needs.
AGGREGATE_INPUT_COLUMNS = ("timestamp", "meter_id", "energy_kwh", "temperature", "is_anomaly", *AGGREGATE_KEYS)
_MICROS = pa.timestamp("us")


@dataclass(frozen=True)
class WindowSpec:
    length: timedelta
    slide: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> WindowSpec:
        return cls(
            length=timedelta(minutes=settings.window_minutes),
            slide=timedelta(minutes=settings.window_slide_minutes),
        )

    @property
    def windows_per_reading(self) -> int:
        return math.ceil(self.length / self.slide)


def _micros(delta: timedelta) -> int:
    return int(delta / timedelta(microseconds=1))


def assign_windows(readings: pa.Table, spec: WindowSpec) -> pa.Table:
    """Each reading once per window holding it, with ``window_start``/``window_end`` appended."""
    stamps = pc.cast(readings["timestamp"], _MICROS).cast(pa.int64())
    slide, length = _micros(spec.slide), _micros(spec.length)
    latest_start = pc.multiply(pc.divide(stamps, slide), slide)  # epoch-aligned; stamps are > 0
    parts = []
    for k in range(spec.windows_per_reading):
        start = pc.subtract(latest_start, k * slide)
        end = pc.add(start, length)
        holds = pc.less(stamps, end)
        part = readings.append_column("window_start", start.cast(_MICROS)).append_column(
            "window_end", end.cast(_MICROS)
        )
        parts.append(part.filter(holds))
    return pa.concat_tables(parts)


def aggregate(assigned: pa.Table) -> pa.Table:
    """The aggregated table's rows for windows-assigned readings (one row per window and keys)."""
    schema = lake_arrow_schema(AGGREGATED)
    if assigned.num_rows == 0:
        return schema.empty_table()
    work = assigned.append_column("anomaly", pc.cast(assigned["is_anomaly"], pa.int64()))
    groups = ["window_start", "window_end", *AGGREGATE_KEYS]
    result = work.group_by(groups, use_threads=False).aggregate(
        [
            ("energy_kwh", "sum"),
            ("energy_kwh", "mean"),
            ("energy_kwh", "max"),
            ("energy_kwh", "count"),
            ("meter_id", "count_distinct"),
            ("temperature", "mean"),
            ("anomaly", "sum"),
        ]
    )
    named = {
        "total_energy_kwh": result["energy_kwh_sum"],
        "avg_energy_kwh": result["energy_kwh_mean"],
        "max_energy_kwh": result["energy_kwh_max"],
        "reading_count": result["energy_kwh_count"],
        "distinct_meters": result["meter_id_count_distinct"],
        "avg_temperature": result["temperature_mean"],
        "anomaly_count": result["anomaly_sum"],
        "window_date": pc.cast(result["window_start"], pa.date32()),
    }
    columns = [named[name] if name in named else result[name] for name in schema.names]
    return pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


@dataclass(frozen=True)
class TouchedDay:
    """The windows of one ``window_date`` a batch touches: ``first_start <= window_start <= last_start``."""

    day: date
    first_start: datetime
    last_start: datetime

    def readings_span(self, spec: WindowSpec) -> tuple[datetime, datetime]:
        """[from, until): the event times of the readings these windows can hold."""
        return self.first_start, self.last_start + spec.length


def touched_days(new_readings: pa.Table, spec: WindowSpec) -> list[TouchedDay]:
    """Per window date, the span of windows the new readings fall in (every one is recomputed)."""
    if new_readings.num_rows == 0:
        return []
    assigned = assign_windows(new_readings.select(["timestamp"]), spec)
    starts = assigned.select(["window_start"]).append_column("day", pc.cast(assigned["window_start"], pa.date32()))
    spans = starts.group_by(["day"], use_threads=False).aggregate([("window_start", "min"), ("window_start", "max")])
    spans = spans.sort_by("day")
    return [TouchedDay(row["day"], row["window_start_min"], row["window_start_max"]) for row in spans.to_pylist()]


def in_touched_windows(touched: list[TouchedDay], start: pc.Expression) -> pc.Expression:
    """True for a window start inside one of the touched spans."""
    expression = pc.scalar(False)
    for span in touched:
        inside = (start >= pa.scalar(span.first_start, _MICROS)) & (start <= pa.scalar(span.last_start, _MICROS))
        expression = expression | inside
    return expression


def readings_filter(touched: list[TouchedDay], spec: WindowSpec) -> pc.Expression:
    """The ``raw/`` rows the touched windows can hold, pruned to their ``reading_date`` partitions."""
    expression = pc.scalar(False)
    for span in touched:
        since, until = span.readings_span(spec)
        expression = expression | (
            (pc.field("reading_date") >= pa.scalar(since.date(), pa.date32()))
            & (pc.field("reading_date") <= pa.scalar(until.date(), pa.date32()))
            & (pc.field("timestamp") >= pa.scalar(since, _MICROS))
            & (pc.field("timestamp") < pa.scalar(until, _MICROS))
        )
    return expression


def recompute(readings: pa.Table, spec: WindowSpec, touched: list[TouchedDay]) -> pa.Table:
    """Aggregates of the touched windows from every reading that may fall in them."""
    assigned = assign_windows(readings.select(list(AGGREGATE_INPUT_COLUMNS)), spec)
    return aggregate(assigned.filter(in_touched_windows(touched, pc.field("window_start"))))
