"""Kill -9 the stream job at random moments, restart it from its checkpoint, and find the lake exact.

Small N and few rounds here; ``benchmarks/kill_stream.py`` runs many.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from smartmeter_assets.settings import Settings
from smartmeter_assets.testbed.stream_kill import kill_rounds

pytestmark = [pytest.mark.spark, pytest.mark.kafka]


def test_the_lake_is_exact_after_kill_9_and_restarts(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=f"kill-{uuid.uuid4().hex[:8]}",
        spark_max_records_per_batch=1000,
        spark_driver_memory="1g",
    )
    # Nine batches a round: the job spends more of its life in batches than in starting (with the
    # class archive a driver starts in ~7 s here), so the kills at 8.2, 8.9 and 11.5 s (this seed)
    # land mid-flight on a fast machine too; on a slow one an early kill still counts.
    report = kill_rounds(
        settings, rounds=3, readings_per_round=9000, meters=50, log_folder=tmp_path, seed=11, kill_after=(5.0, 12.0)
    )
    assert report.problems == []
    assert report.kills >= 1  # at least one round died mid-flight (else this tested nothing)
    assert report.raw_rows == report.readings == 27000
    assert report.rejected_rows == report.poison > 0
