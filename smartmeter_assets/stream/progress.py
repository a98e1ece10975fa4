"""Each micro-batch's figures, one flat dict: logged, recorded in the lake, sent through Dagster Pipes.

The figures come from the batch itself (rows read, next offset per partition read, rows written per
table, rejects, duplicates, where the time went), measured inside ``foreachBatch``: they exist
before the batch commits, so they are committed with it (:mod:`smartmeter_assets.lake.progress`).
Keys are a contract with the Dagster side (the sensor and the Pipes wrapper read them).

A run keeps running totals, never a list of its batches: a stream runs for months.
"""

from __future__ import annotations

from typing import Any

from smartmeter_assets.stream.lake_writer import BatchWrite

BATCH_KEYS = (
    "batch_id", "input_rows", "rows_per_second", "duration_ms", "offsets", "late_rows_dropped",
    "rejected_rows", "raw_rows_written", "anomaly_rows", "aggregated_rows_written", "newest_event_time",
)  # fmt: skip
#: Summed over a run for the totals of an available-now run.
_SUMMED = (
    "input_rows", "late_rows_dropped", "rejected_rows", "raw_rows_written", "anomaly_rows",
    "aggregated_rows_written", "duplicate_rows", "duplicate_rejects",
)  # fmt: skip


def batch_figures(write: BatchWrite) -> dict[str, Any]:
    """The batch's figures; duration is the batch's whole time in ``foreachBatch`` (Kafka read included)."""
    duration_ms = sum(write.step_ms.values())
    figures = write.as_dict()
    figures.update(
        duration_ms=duration_ms,
        rows_per_second=round(write.input_rows * 1000 / duration_ms, 1) if duration_ms else 0.0,
        offsets=dict(sorted(write.offsets.items(), key=lambda item: int(item[0]))),
    )
    return figures


class RunTotals:
    """Sums over a run's batches, in constant memory."""

    def __init__(self) -> None:
        self.batches = 0
        self.summed = dict.fromkeys(_SUMMED, 0)
        self.offsets: dict[str, int] = {}
        self.newest_event_time: str | None = None

    def add(self, figures: dict[str, Any]) -> None:
        self.batches += 1
        for key in _SUMMED:
            self.summed[key] += int(figures.get(key) or 0)
        for partition, offset in dict(figures.get("offsets") or {}).items():
            self.offsets[str(partition)] = max(int(offset), self.offsets.get(str(partition), 0))
        newest = figures.get("newest_event_time")
        if newest and (self.newest_event_time is None or str(newest) > self.newest_event_time):
            self.newest_event_time = str(newest)

    def as_dict(self, seconds: float) -> dict[str, Any]:
        """A run's totals (the last message of an available-now run)."""
        return {
            "batches": self.batches,
            **self.summed,
            "seconds": round(seconds, 2),
            "rows_per_second": round(self.summed["input_rows"] / seconds, 1) if seconds > 0 else 0.0,
            "offsets": dict(sorted(self.offsets.items(), key=lambda item: int(item[0]))),
            "newest_event_time": self.newest_event_time,
        }


def describe(figures: dict[str, Any]) -> str:
    """One log line for a batch."""
    return (
        f"batch {figures['batch_id']}: {figures['input_rows']} rows in {figures['duration_ms']} ms "
        f"({figures['rows_per_second']:.0f} rows/s), raw +{figures['raw_rows_written']}, "
        f"rejected +{figures['rejected_rows']}, anomalies +{figures['anomaly_rows']}, "
        f"duplicates {figures.get('duplicate_rows', 0)}, late {figures['late_rows_dropped']}, "
        f"offsets {figures['offsets']}, steps ms {figures.get('step_ms', {})}"
    )
