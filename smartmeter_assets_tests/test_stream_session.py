"""The stream job's SparkSession as ``build_session`` makes it (the shared local[2] session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from smartmeter_assets.stream.class_archive import archive_path, sharing_option
from smartmeter_assets.stream.session import DRIVER_JAVA_OPTIONS, JAVA_OPTIONS_KEYS, java_options


def driver_pid(spark: SparkSession) -> int:
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())  # type: ignore[union-attr]


def test_the_driver_maps_the_class_archive_install_jars_wrote(spark: SparkSession) -> None:
    archive = archive_path()
    assert archive.is_file(), f"no class archive for this JDK and these jars: run `smartmeter install-jars` ({archive})"
    assert sharing_option() == f"-XX:SharedArchiveFile={archive}"
    # mapped into the driver's memory: the JVM took its classes from it (an unusable archive is not mapped)
    assert str(archive) in Path(f"/proc/{driver_pid(spark)}/maps").read_text()


def test_only_the_driver_is_given_the_class_archive() -> None:
    options = java_options({}, None, "-XX:SharedArchiveFile=/x.jsa")
    assert options[DRIVER_JAVA_OPTIONS].endswith(" -XX:SharedArchiveFile=/x.jsa")
    assert all("SharedArchiveFile" not in options[key] for key in JAVA_OPTIONS_KEYS if key != DRIVER_JAVA_OPTIONS)


def test_no_class_archive_is_named_beside_a_spark_conf_folder_on_the_class_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a JVM refuses an archive while a non-empty folder is on its class path, and the conf folder is
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.memory 1g\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert sharing_option() is None


def test_the_driver_draws_no_console_progress_bar(spark: SparkSession) -> None:
    # pyspark starts the JVM as a shell, and a shell's SparkContext draws a bar on stderr for every
    # stage running over 500 ms: in the stream job's log (and its Dagster run's) every 200 ms
    assert not spark.sparkContext._jsc.sc().progressBar().isDefined()  # type: ignore[union-attr]
