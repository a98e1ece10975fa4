"""The stream job's SparkSession as ``build_session`` makes it (the shared local[2] session)."""

from __future__ import annotations

from pyspark.sql import SparkSession


def test_the_driver_draws_no_console_progress_bar(spark: SparkSession) -> None:
    # pyspark starts the JVM as a shell, and a shell's SparkContext draws a bar on stderr for every
    # stage running over 500 ms: in the stream job's log (and its Dagster run's) every 200 ms
    assert not spark.sparkContext._jsc.sc().progressBar().isDefined()  # type: ignore[union-attr]
