"""The SparkSession of the stream job, built from the one ``Settings`` object.

Why these options: the job runs on ``local[2]`` beside Dagster on a 2-core machine, so shuffles
stay small (4 partitions) and the UI stays off; the session time zone is UTC because readings are
GMT all year and the lake stores them zone-less as read, whatever the machine's zone. The derived
columns convert to Europe/London explicitly (``transforms.london_wall_clock``).

With ``AWS_CA_BUNDLE`` set, the driver and executor JVMs start with the truststore of
:mod:`smartmeter_assets.stream.truststore` (the JVM's CAs plus the bundle's), so S3A's checkpoint
reaches an https endpoint signed by a private CA. JVM options only apply when a JVM starts: pyspark
hands them to ``spark-submit``, which starts the driver with them. They are added to any
``extraJavaOptions`` in ``spark-defaults.conf``, which would otherwise be replaced.

The JVMs collect garbage with the parallel (throughput) collector unless ``spark-defaults.conf``
picks one: a micro-batch job wants throughput, not G1's short pauses paid for by concurrent
threads. Over a full-scale 14-day ``smartmeter run`` (3.6 M readings) G1's threads used 8.2 CPU-s
of the driver JVM's 99 (4.8 of them concurrent marking); the parallel collector used 2.2-2.6, with
the same batches and the same 2 GB heap.

And their JIT waits 10 times longer than HotSpot's default before compiling a method with C2: in
the same run the compiler threads used 23-25 CPU-s, half of what the tasks themselves used
(42-44), because C2 compiled much of Spark that runs a few thousand times a batch, not per row.
Per-row code is called millions of times and still reaches C2 within the first batch: with these
thresholds the tasks used 39.6-42.1 CPU-s and the compilers 12.2-12.6 (40 times the default:
46.2-46.5 and 9.0-9.4, a slower run; 200 times: the tasks 61.8, the code staying too long in C1).
Options of the same name in ``spark-defaults.conf`` come after these, so they win.

And the JIT compiles methods of any size. HotSpot leaves a method over 8,000 bytes of bytecode
interpreted for ever; the generated code of the stream's one stage (the two-route JSON parse,
classification, derived columns and rules: :mod:`smartmeter_assets.stream.transforms`) is 9,025
bytes, and interpreted it ran the classification at 128,000-139,000 rows/s instead of 240,000 (a
micro-benchmark on local[2], 800,000 messages to Spark's ``noop`` sink).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from smartmeter_assets.lake.storage import s3_ca_bundle
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.class_archive import sharing_option, spark_conf_dir
from smartmeter_assets.stream.truststore import java_trust_options, java_truststore

log = logging.getLogger(__name__)

#: The JVM options a truststore goes into: the driver's (checkpoint) and the executors' (state).
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
JAVA_OPTIONS_KEYS = (DRIVER_JAVA_OPTIONS, "spark.executor.extraJavaOptions")
#: C2's thresholds, 10 times HotSpot's (5000 / 600 / 15000 / 40000), and huge methods compiled
#: too: see the module docstring.
JIT_OPTIONS = (
    "-XX:Tier4InvocationThreshold=50000",
    "-XX:Tier4MinInvocationThreshold=6000",
    "-XX:Tier4CompileThreshold=150000",
    "-XX:Tier4BackEdgeThreshold=400000",
    "-XX:-DontCompileHugeMethods",
)
#: The collector the JVMs get unless spark-defaults.conf names one (see the module docstring).
THROUGHPUT_COLLECTOR = "-XX:+UseParallelGC"
#: A JVM option choosing a collector (two of them stop the JVM at start).
_COLLECTOR_OPTION = re.compile(r"-XX:\+Use\w*GC\b")


def spark_defaults() -> dict[str, str]:
    """``spark-defaults.conf`` as ``spark-submit`` reads it (``SPARK_CONF_DIR``, else ``SPARK_HOME/conf``)."""
    defaults = spark_conf_dir() / "spark-defaults.conf"
    if not defaults.is_file():
        return {}
    entries = {}
    for line in defaults.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            key, *value = re.split(r"\s*[=:]\s*|\s+", line, maxsplit=1)
            entries[key] = value[0].strip() if value else ""
    return entries


def build_session(
    settings: Settings, *, app_name: str | None = None, ui: bool = False, archive_classes_to: Path | None = None
) -> SparkSession:
    """Get or create the job's session (Python workers run this interpreter, where we are installed).

    The driver maps the class archive made at install time (:mod:`.class_archive`) when there is
    one for this JDK and these jars; ``archive_classes_to`` makes it write one there at exit instead.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name or settings.stream_query_name)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.ui.enabled", str(ui).lower())
        # pyspark starts its JVM as a "pyspark-shell", which turns Spark's console progress bars
        # on: they would be written into the job's log (and the Dagster run's) every 200 ms.
        .config("spark.ui.showConsoleProgress", "false")
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
    store = _trust_s3_ca_bundle(settings)
    trust = java_trust_options(store) if store is not None else None
    sharing = f"-XX:ArchiveClassesAtExit={archive_classes_to}" if archive_classes_to else sharing_option()
    for key, options in java_options(spark_defaults(), trust, sharing).items():
        builder = builder.config(key, options)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    if store is not None:
        _warn_unless_trusted(session, store)
    return session


def java_options(defaults: dict[str, str], trust: str | None, driver_sharing: str | None = None) -> dict[str, str]:
    """The driver's and executors' ``extraJavaOptions``: the JIT's thresholds, spark-defaults.conf's
    own options, the throughput collector unless they name a collector, the truststore's (if any);
    the driver's also its class archive option (executors on a cluster have JDKs of their own)."""
    options = {}
    for key in JAVA_OPTIONS_KEYS:
        own = defaults.get(key, "")
        collector = None if _COLLECTOR_OPTION.search(own) else THROUGHPUT_COLLECTOR
        sharing = driver_sharing if key == DRIVER_JAVA_OPTIONS else None
        options[key] = " ".join(filter(None, [*JIT_OPTIONS, own, collector, trust, sharing]))
    return options


def _trust_s3_ca_bundle(settings: Settings) -> Path | None:
    """The truststore for ``AWS_CA_BUNDLE`` (None without one: the JVM's own CAs then apply)."""
    ca_bundle = s3_ca_bundle()
    return java_truststore(settings.home, Path(ca_bundle)) if ca_bundle else None


def _warn_unless_trusted(session: SparkSession, store: Path) -> None:
    """A JVM started before (another session in this process) ignored the options: say so."""
    system = session.sparkContext._jvm.java.lang.System  # type: ignore[union-attr]
    running = system.getProperty("javax.net.ssl.trustStore")
    if running != str(store):
        log.warning(
            "the Spark driver JVM was already running with truststore %s, not %s: s3a:// over https "
            "signed by the AWS_CA_BUNDLE CA will fail in this process",
            running or "(the JVM's default)", store,
        )  # fmt: skip
