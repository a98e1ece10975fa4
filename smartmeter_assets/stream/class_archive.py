"""The Spark driver's class-data sharing archive (AppCDS), made once at install time.

Why: before its first batch a driver JVM loads, parses and verifies thousands of classes from
Spark's jars, on a core the rest of ``smartmeter run`` needs. With an archive of those classes the
JVM maps them instead. Measured on local[2] (a session, then the stream's classification of 20,000
messages; driver JVM CPU from ``/proc``, three runs each): the session took 3.9-4.4 CPU-s instead
of 6.3-7.3, session plus job 13.1-14.2 CPU-s instead of 16.6-18.0.

How: ``smartmeter install-jars`` runs :mod:`.class_warm_up` in a child process whose driver JVM
starts with ``-XX:ArchiveClassesAtExit``: a session, the stream's classification as a streaming
query (a file source in place of Kafka, ``foreachBatch`` collecting Arrow as the job does) and a
planned Kafka source. At exit the JVM writes every class it loaded into the archive; every later
driver maps it (``-XX:SharedArchiveFile``, added by ``session.build_session``).

An archive is valid only for the JDK and the class path it was made with. Its name carries a
digest of both, so another JDK, another Spark or other jars find no archive (the JVM then starts
as it always did) until the next install. A non-empty Spark conf folder is on the driver's class
path, and a JVM cannot use an archive with a non-empty folder on its class path: no archive then.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from smartmeter_assets.stream.truststore import jvm_home

log = logging.getLogger(__name__)

#: Beside the embedded broker's jars: inside the environment the project is installed in.
ARCHIVE_DIR = Path(sys.prefix) / "share" / "smartmeter"
ARCHIVE_PREFIX = "spark-driver-"
ARCHIVE_SUFFIX = ".jsa"


class ClassArchiveError(RuntimeError):
    """The warm-up that writes the archive failed: the message holds its output's tail."""


def spark_home() -> Path:
    """``SPARK_HOME``, else pyspark's own folder (as pyspark's launcher picks it)."""
    import pyspark

    return Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)


def spark_conf_dir() -> Path:
    """Where ``spark-submit`` reads ``spark-defaults.conf``: ``SPARK_CONF_DIR``, else ``SPARK_HOME/conf``."""
    return Path(os.environ.get("SPARK_CONF_DIR") or spark_home() / "conf")


def _class_path_digest() -> str:
    """The JDK (its path and its libjvm) and Spark's jars (names, sizes, times), as one digest."""
    java = jvm_home()
    parts = [str(java), str(spark_conf_dir())]
    for library in sorted(java.glob("lib/server/libjvm.so")):
        stat = library.stat()
        parts.append(f"{library.name}:{stat.st_size}:{stat.st_mtime_ns}")
    for jar in sorted((spark_home() / "jars").glob("*.jar")):
        stat = jar.stat()
        parts.append(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def archive_path() -> Path:
    """The archive for the JDK and the jars installed now (whether it exists or not)."""
    return ARCHIVE_DIR / f"{ARCHIVE_PREFIX}{_class_path_digest()}{ARCHIVE_SUFFIX}"


def sharing_option() -> str | None:
    """The driver's ``-XX:SharedArchiveFile`` option, or None when there is no usable archive."""
    conf = spark_conf_dir()
    if conf.is_dir() and any(conf.iterdir()):
        return None
    archive = archive_path()
    return f"-XX:SharedArchiveFile={archive}" if archive.is_file() else None


def build_archive(timeout_seconds: float = 600.0) -> Path:
    """Write the archive for the JDK and jars installed now (replacing older ones); its path."""
    target = archive_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    environment = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-m", "smartmeter_assets.stream.class_warm_up", str(partial)],
        env=environment, capture_output=True, text=True, timeout=timeout_seconds, check=False,
    )  # fmt: skip
    if done.returncode != 0 or not partial.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        partial.unlink(missing_ok=True)
        raise ClassArchiveError(f"the Spark class archive was not written (exit {done.returncode}):\n{tail}")
    partial.replace(target)
    for older in ARCHIVE_DIR.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"):
        if older != target:
            older.unlink(missing_ok=True)
    log.info(
        "Spark driver class archive %s (%.0f MB) in %.1fs",
        target, target.stat().st_size / 1e6, time.perf_counter() - started,
    )  # fmt: skip
    return target
