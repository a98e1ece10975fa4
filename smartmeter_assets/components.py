"""The pinned releases of the third-party components we run, written once.

``smartmeter install-jars`` (run by ``make install`` and by the Dockerfile), the embedded broker,
the compose file's images and the tests all read these. Why pinned here and not resolved when a job
starts: a job that needs Maven Central to start fails offline, pays the download on every fresh
machine and may run other versions than the tested ones.

pyspark is pinned at 4.2.0, not the newest on PyPI (4.3.0): Spark's Kafka connector must be the
release of the Spark it runs in, and Maven Central serves ``spark-sql-kafka-0-10_2.13`` up to 4.2.0
(4.3.0 answered 404 on 2026-11-27). ``pyproject.toml`` pins the same pyspark (a test compares).
"""

from __future__ import annotations

SCALA_BINARY = "2.13"
#: Spark's release = pyspark's; its connector and hadoop-aws must match it.
SPARK_RELEASE = "4.2.0"
#: The Hadoop client pyspark 4.2.0 ships (hadoop-client-api-3.5.0.jar): hadoop-aws must equal it.
HADOOP_RELEASE = "3.5.0"
#: The AWS SDK v2 bundle hadoop-aws 3.5.0 was built against.
AWS_SDK_RELEASE = "2.35.4"
#: Apache Kafka, KRaft: the embedded broker (Maven artifacts) and the compose image (apache/kafka).
KAFKA_RELEASE = "4.1.0"
#: The Scala library Kafka 4.1.0 is built with (its POM's); Spark's resolver never resolves
#: scala-library (it assumes Spark's own), so the installer fetches this one by itself.
KAFKA_SCALA_LIBRARY = "org.scala-lang:scala-library:2.13.16"
#: log4j2, the logging backend of the Kafka distribution (the broker's Maven POM leaves it out).
LOG4J_RELEASE = "2.24.3"

#: Jars Spark needs beyond pyspark's own: the native ``kafka`` source and ``s3a://`` checkpoints.
SPARK_PACKAGES: tuple[str, ...] = (
    f"org.apache.spark:spark-sql-kafka-0-10_{SCALA_BINARY}:{SPARK_RELEASE}",
    f"org.apache.hadoop:hadoop-aws:{HADOOP_RELEASE}",
    f"software.amazon.awssdk:bundle:{AWS_SDK_RELEASE}",
)
#: Classes that must load in Spark once its jars are in place (the install fails otherwise).
SPARK_REQUIRED_CLASSES: tuple[str, ...] = (
    "org.apache.spark.sql.kafka010.KafkaSourceProvider",
    "org.apache.hadoop.fs.s3a.S3AFileSystem",
    "software.amazon.awssdk.services.s3.S3Client",
)
#: The embedded broker's classpath: the broker (its admin tools too: StorageTool, ConfigCommand), a log4j2 backend.
KAFKA_BROKER_PACKAGES: tuple[str, ...] = (
    f"org.apache.kafka:kafka_{SCALA_BINARY}:{KAFKA_RELEASE}",
    f"org.apache.logging.log4j:log4j-core:{LOG4J_RELEASE}",
    f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_RELEASE}",
)
#: The compose file's Kafka image (a test holds docker-compose.yml to it).
KAFKA_IMAGE = f"apache/kafka:{KAFKA_RELEASE}"

#: MinIO, the local cluster's S3 server: built from source with ``go install`` at install time
#: (``make cluster-install``). The Go module proxy serves github.com/minio/minio only as this
#: pseudo-version (the project's last commit, 2026-02-12, after its final RELEASE tag
#: 2025-10-15); the RELEASE.* tags answer 403 there, so no tagged release can be built this way.
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
#: The compose file's MinIO image: built from the same module version (deploy/minio/Dockerfile),
#: since MinIO publishes no images for its source-only releases any more.
MINIO_IMAGE = f"smartmeter-minio:{MINIO_VERSION}"
#: Dagster's storage in compose; the local cluster uses Debian's ``postgresql`` package instead
#: (whatever major version the distribution ships: Dagster's schema needs 11+).
POSTGRES_IMAGE = "postgres:17.5-bookworm"
