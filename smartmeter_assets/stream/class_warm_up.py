"""``python -m smartmeter_assets.stream.class_warm_up ARCHIVE``: load the stream's classes, then exit.

The child process of :func:`.class_archive.build_archive`. Its driver JVM starts with
``-XX:ArchiveClassesAtExit=ARCHIVE`` and writes every class it loaded there when it exits, so the
work here is the stream job's own code on a few messages: the session as the job builds it, a
Kafka source planned (no broker is needed until a query starts), and the classification run as a
streaming query whose ``foreachBatch`` collects each batch to Arrow, as the job's sink does. The
messages come from a file source in a temporary folder: one well-formed, one with its energy as
text (the second parse route) and one that is not JSON (a dead letter).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

from smartmeter_assets.contracts import MESSAGE_FIELDS, TIMESTAMP_EXAMPLE, FieldType
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.session import build_session
from smartmeter_assets.stream.source import read_topic
from smartmeter_assets.stream.transforms import KAFKA_COLUMNS, anomaly_thresholds, classify

#: Where the planned Kafka source points: nothing listens there, and nothing connects.
UNREACHED_BOOTSTRAP = "127.0.0.1:9"


def _messages() -> list[str]:
    fields: dict[str, object] = {
        field.name: 0.25 if field.type is FieldType.DOUBLE else "warm-up" for field in MESSAGE_FIELDS
    }
    fields.update(meter_id="MAC000001", timestamp=TIMESTAMP_EXAMPLE, ingestion_time="2026-01-01T00:00:00.000Z")
    return [json.dumps(fields), json.dumps({**fields, "energy_kwh": "0.25"}), "not json"]


def _as_kafka_rows(lines: DataFrame) -> DataFrame:
    """Text lines with the columns of Spark's kafka source."""
    return lines.select(
        F.lit("MAC000001").cast("binary").alias("key"),
        F.col("value").cast("binary").alias("value"),
        F.lit("warm-up").alias("topic"),
        F.lit(0).alias("partition"),
        F.lit(0).cast("long").alias("offset"),
        F.current_timestamp().alias("timestamp"),
        F.lit(0).alias("timestampType"),
    ).select(*KAFKA_COLUMNS)


def warm_up(archive: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="smartmeter-class-warm-up-") as folder:
        root = Path(folder)
        settings = Settings(home=root / "home", spark_master="local[2]")
        session = build_session(settings, app_name="smartmeter-class-warm-up", archive_classes_to=archive)
        read_topic(session, settings, UNREACHED_BOOTSTRAP).schema  # noqa: B018 - plans the source
        (root / "messages").mkdir()
        (root / "messages" / "part-0.txt").write_text("\n".join(_messages()) + "\n")
        lines = session.readStream.text(str(root / "messages"))
        classified = classify(_as_kafka_rows(lines), anomaly_thresholds(settings))
        query = (
            classified.writeStream.foreachBatch(lambda batch, _: batch.toArrow())
            .option("checkpointLocation", str(root / "checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        session.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.stream.class_warm_up", description=__doc__)
    parser.add_argument("archive", type=Path, help="where the driver JVM writes its class archive at exit")
    warm_up(parser.parse_args(argv).archive)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
