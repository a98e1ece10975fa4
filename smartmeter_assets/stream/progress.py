"""Each micro-batch's figures, one flat dict: logged, and sent through Dagster Pipes.

The dict joins what Spark measured (rows, rate, duration, end offsets: its query progress) with
what the lake writer did (rows written per table, rejects, duplicates, late rows). Keys are a
contract with the Dagster side (the sensor and the Pipes wrapper read them).
"""

from __future__ import annotations

import json
from typing import Any

from smartmeter_assets.stream.checkpoint import partition_offsets
from smartmeter_assets.stream.lake_writer import BatchWrite

BATCH_KEYS = (
    "batch_id", "input_rows", "rows_per_second", "duration_ms", "offsets", "late_rows_dropped",
    "rejected_rows", "raw_rows_written", "anomaly_rows", "aggregated_rows_written", "newest_event_time",
)  # fmt: skip
#: Summed over a run for the totals of an available-now run.
_SUMMED = (
    "input_rows", "late_rows_dropped", "rejected_rows", "raw_rows_written", "anomaly_rows",
    "aggregated_rows_written", "duplicate_rows",
)  # fmt: skip


def progress_dict(progress: Any) -> dict[str, Any]:
    """A ``StreamingQueryProgress`` (or its JSON) as a plain dict."""
    if isinstance(progress, dict) and "batchId" in progress and not hasattr(progress, "json"):
        return progress
    return json.loads(progress.json if hasattr(progress, "json") else str(progress))


def batch_figures(progress: dict[str, Any], write: BatchWrite, topic: str) -> dict[str, Any]:
    sources = progress.get("sources") or [{}]
    end_offset = sources[0].get("endOffset")
    offsets = partition_offsets(end_offset, topic) if end_offset else {}
    figures: dict[str, Any] = {
        "batch_id": int(progress["batchId"]),
        "input_rows": int(progress.get("numInputRows", 0)),
        "rows_per_second": round(float(progress.get("processedRowsPerSecond", 0.0) or 0.0), 1),
        "duration_ms": int((progress.get("durationMs") or {}).get("triggerExecution", 0)),
        "offsets": {str(p): o for p, o in sorted(offsets.items())},
        "late_rows_dropped": write.late_rows_dropped,
        "rejected_rows": write.rejected_rows,
        "raw_rows_written": write.raw_rows_written,
        "anomaly_rows": write.anomaly_rows,
        "aggregated_rows_written": write.aggregated_rows_written,
        "newest_event_time": write.newest_event_time,
        "duplicate_rows": write.duplicate_rows,
        "replayed_tables": list(write.replayed_tables),
        "step_ms": dict(write.step_ms),
    }
    return figures


def totals(batches: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """A run's totals (the last message of an available-now run)."""
    summed = {key: sum(int(b.get(key) or 0) for b in batches) for key in _SUMMED}
    newest = [b["newest_event_time"] for b in batches if b.get("newest_event_time")]
    return {
        "batches": len(batches),
        **summed,
        "seconds": round(seconds, 2),
        "rows_per_second": round(summed["input_rows"] / seconds, 1) if seconds > 0 else 0.0,
        "offsets": batches[-1]["offsets"] if batches else {},
        "newest_event_time": max(newest) if newest else None,
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
