"""The SparkSession of the stream job, built from the one ``Settings`` object.

Why these options: the job runs on ``local[2]`` beside Dagster on a 2-core machine, so shuffles
stay small (4 partitions) and the UI stays off; the session time zone is UTC because readings are
GMT all year and the lake stores them zone-less as read, whatever the machine's zone. The derived
columns convert to Europe/London explicitly (``transforms.london_wall_clock``).
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from smartmeter_assets.settings import Settings


def build_session(settings: Settings, *, app_name: str | None = None, ui: bool = False) -> SparkSession:
    """Get or create the job's session (Python workers run this interpreter, where we are installed)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name or settings.stream_query_name)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.ui.enabled", str(ui).lower())
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "false")
        # Each micro-batch is collected to the driver by design (design.md section 3): no limit.
        .config("spark.driver.maxResultSize", "0")
    )
    if settings.spark_master.startswith("local"):
        # Embedded: nothing outside this machine talks to the driver. On a cluster (client mode)
        # the executors must reach it, so its address comes from SPARK_LOCAL_HOSTNAME/_IP instead.
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
