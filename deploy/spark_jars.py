"""Put Spark's Kafka connector and hadoop-aws into the image at BUILD time (run by the Dockerfile).

Why at build time: a container that resolves ``spark.jars.packages`` when the stream starts needs
Maven Central at run time, pays the download on every fresh container, and can start with other
versions than the ones tested. Here a throwaway local session resolves the packages with Ivy (so
Spark's own resolver picks the transitive dependencies), the jars Spark does not already ship are
copied into pyspark's ``jars/`` folder, and a second session proves the classes load. The Spark
master and worker run from the same image, so driver and executors share one classpath.

Usage: python deploy/spark_jars.py --ivy /tmp/ivy group:artifact:version[,group:artifact:version...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Classes that must load once the jars are in place (the build fails otherwise).
REQUIRED_CLASSES = (
    "org.apache.spark.sql.kafka010.KafkaSourceProvider",
    "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "software.amazon.awssdk.services.s3.S3Client",
)

_VERSION_START = re.compile(r"-(?=\d)")


def artifact_name(jar_file: str) -> str:
    """The artifact of a jar file name, whether Spark ships it or Ivy resolved it.

    ``kafka-clients-3.9.1.jar`` and Ivy's ``org.apache.kafka_kafka-clients-3.9.1.jar`` both give
    ``kafka-clients``; Scala suffixes stay (``spark-sql-kafka-0-10_2.13``). The version starts at
    the first ``-<digit>`` after which no ``_`` follows, so ``-0-10_2.13`` is part of the name.
    """
    stem = jar_file.removesuffix(".jar")
    organisation, _, rest = stem.partition("_")
    if rest and "." in organisation and "-" not in organisation:  # Ivy's [organisation]_[artifact]
        stem = rest
    for match in _VERSION_START.finditer(stem):
        if "_" not in stem[match.end() :]:
            return stem[: match.start()]
    return stem


def jars_to_add(resolved: list[str], bundled: list[str]) -> list[str]:
    """The resolved jars whose artifact Spark does not already ship (never two versions of one)."""
    shipped = {artifact_name(jar) for jar in bundled}
    return sorted(jar for jar in resolved if artifact_name(jar) not in shipped)


def _session(**conf: str) -> SparkSession:
    from pyspark.sql import SparkSession  # imported late: the pure functions above need no JVM

    builder = SparkSession.builder.master("local[1]").appName("resolve-jars").config("spark.ui.enabled", "false")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def resolve(packages: str, ivy_dir: Path) -> list[Path]:
    session = _session(**{"spark.jars.packages": packages, "spark.jars.ivy": str(ivy_dir)})
    session.stop()
    jars = sorted((ivy_dir / "jars").glob("*.jar"))
    if not jars:
        raise SystemExit(f"Ivy resolved nothing for {packages} into {ivy_dir}/jars")
    return jars


def verify_classes() -> None:
    session = _session()
    jvm = session.sparkContext._jvm
    try:
        for name in REQUIRED_CLASSES:
            jvm.java.lang.Class.forName(name)
            print(f"loads: {name}")
    finally:
        session.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", help="comma-separated Maven coordinates")
    parser.add_argument("--ivy", type=Path, required=True, help="Ivy home for the resolution")
    args = parser.parse_args(argv)

    import pyspark

    spark_jars = Path(pyspark.__file__).parent / "jars"
    resolved = resolve(args.packages, args.ivy)
    added = jars_to_add([jar.name for jar in resolved], [jar.name for jar in spark_jars.glob("*.jar")])
    for name in added:
        shutil.copy2(args.ivy / "jars" / name, spark_jars / name)
        print(f"added: {name}")
    verify_classes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
