"""Event-time windowed aggregates of readings, computed on Arrow (design.md section 2).

Why not Spark's stateful aggregation: the lake must hold each reading once even when it is
published twice, and that is only known after the batch is compared with ``raw/`` on the driver.
So the aggregates are *recomputed* for the windows a batch touches, from ``raw/`` plus the batch's
new readings, and replace those windows in ``aggregated/``. A replayed batch therefore yields the
same rows, and ``aggregated/`` always equals a batch recomputation over ``raw/`` (less the rows the
watermark dropped, which are counted).

Windows follow Spark's ``window()``: ``[start, start + length)`` with starts on multiples of the
slide since the epoch; a reading belongs to every window that contains it.

The watermark: ``max event time already in raw/ - watermark``. A window whose end is at or before
it is closed: it is never recomputed again, and a new reading that falls only in closed windows
is counted as dropped by the watermark (it still lands in ``raw/``: the watermark bounds the
aggregates, it never loses a reading).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import AGGREGATE_KEYS, AGGREGATED
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.settings import Settings

#: The raw columns an aggregate needs.
AGGREGATE_INPUT_COLUMNS = ("timestamp", "meter_id", "energy_kwh", "temperature", "is_anomaly", *AGGREGATE_KEYS)
_ROW = "__row"
_MICROS = pa.timestamp("us")


@dataclass(frozen=True)
class WindowSpec:
    length: timedelta
    slide: timedelta
    watermark: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> WindowSpec:
        return cls(
            length=timedelta(minutes=settings.window_minutes),
            slide=timedelta(minutes=settings.window_slide_minutes),
            watermark=timedelta(minutes=settings.watermark_minutes),
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
class OpenWindows:
    """What a batch's new readings do to the aggregates."""

    first_start: datetime | None  # the touched windows: first_start <= window_start <= last_start
    last_start: datetime | None
    late_rows: int  # new readings that fall only in closed windows

    @property
    def touched(self) -> bool:
        return self.first_start is not None


def open_windows(new_readings: pa.Table, spec: WindowSpec, watermark: datetime | None) -> OpenWindows:
    """The span of still-open windows the new readings fall in, and how many readings are late."""
    if new_readings.num_rows == 0:
        return OpenWindows(None, None, 0)
    numbered = new_readings.select(["timestamp"]).append_column(
        _ROW, pa.array(range(new_readings.num_rows), pa.int64())
    )
    assigned = assign_windows(numbered, spec)
    if watermark is not None:
        assigned = assigned.filter(pc.greater(assigned["window_end"], pa.scalar(watermark, _MICROS)))
    on_time = pc.count_distinct(assigned[_ROW]).as_py() if assigned.num_rows else 0
    if assigned.num_rows == 0:
        return OpenWindows(None, None, new_readings.num_rows)
    bounds = pc.min_max(assigned["window_start"]).as_py()
    return OpenWindows(bounds["min"], bounds["max"], new_readings.num_rows - on_time)


def recompute(readings: pa.Table, spec: WindowSpec, span: OpenWindows) -> pa.Table:
    """Aggregates of the windows in ``span`` from every reading that may fall in them."""
    assigned = assign_windows(readings.select(list(AGGREGATE_INPUT_COLUMNS)), spec)
    first = pa.scalar(span.first_start, _MICROS)
    last = pa.scalar(span.last_start, _MICROS)
    inside = pc.and_(pc.greater_equal(assigned["window_start"], first), pc.less_equal(assigned["window_start"], last))
    return aggregate(assigned.filter(inside))


def readings_needed(span: OpenWindows, spec: WindowSpec) -> tuple[datetime, datetime]:
    """[from, until): the event times of readings that can fall in the span's windows."""
    assert span.first_start is not None and span.last_start is not None
    return span.first_start, span.last_start + spec.length
