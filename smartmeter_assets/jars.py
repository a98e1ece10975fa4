"""Fetch the pinned jars at install time: Spark's Kafka connector + S3A, and the embedded Kafka broker.

``smartmeter install-jars`` runs this (``make install`` calls it, so does the Dockerfile). Nothing
here runs when a job starts: the stream finds its connector in pyspark's own ``jars/`` folder and
the embedded broker its classpath under ``<venv>/share/smartmeter/``.

Why Spark's own resolver (Ivy, through ``spark.jars.packages`` in a throwaway local session):
it picks transitive dependencies exactly as ``spark-submit --packages`` would, from Maven Central,
with no Maven install needed in the image. Each resolution runs in a child process because the
JVM resolves packages only when it starts.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from smartmeter_assets.components import (
    KAFKA_BROKER_PACKAGES,
    KAFKA_RELEASE,
    KAFKA_SCALA_LIBRARY,
    SCALA_BINARY,
    SPARK_PACKAGES,
    SPARK_REQUIRED_CLASSES,
)

log = logging.getLogger(__name__)

_VERSION_START = re.compile(r"-(?=\d)")
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
#: Written last into a broker folder: its presence means every jar was copied.
COMPLETE_MARKER = ".complete"


class JarsMissingError(RuntimeError):
    """A component's jars are not installed: the message says which command installs them."""


def default_ivy_dir() -> Path:
    """Ivy's cache, kept between installs so a fresh venv does not download everything again."""
    return Path.home() / ".cache" / "smartmeter" / "ivy"


def spark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def kafka_broker_dir() -> Path:
    """Where the embedded broker's jars live: inside the environment the project is installed in."""
    return Path(sys.prefix) / "share" / "smartmeter" / f"kafka_{SCALA_BINARY}-{KAFKA_RELEASE}"


def kafka_broker_classpath() -> str:
    """The broker's ``-cp`` argument; a clear error when ``install-jars`` never ran."""
    folder = kafka_broker_dir()
    if not (folder / COMPLETE_MARKER).is_file():
        raise JarsMissingError(
            f"Apache Kafka {KAFKA_RELEASE} is not installed in {folder}: run `make install` "
            "(or `smartmeter install-jars`) once, with Maven Central reachable"
        )
    return f"{folder}/*"


def artifact_name(jar_file: str) -> str:
    """The artifact of a jar file name, whether Spark ships it or Ivy resolved it.

    ``kafka-clients-3.9.1.jar`` and Ivy's ``org.apache.kafka_kafka-clients-3.9.1.jar`` both give
    ``kafka-clients``; Scala suffixes stay (``spark-sql-kafka-0-10_2.13``). The version starts at
    the first ``-<digit>`` after which no ``_`` follows, so ``-0-10_2.13`` is part of the name.
    """
    stem = jar_file.removesuffix(".jar")
    organisation, _, rest = stem.partition("_")
    if rest and "." in organisation:  # Ivy's [organisation]_[artifact]: organisations are dotted
        stem = rest
    for match in _VERSION_START.finditer(stem):
        if "_" not in stem[match.end() :]:
            return stem[: match.start()]
    return stem


def jars_to_add(resolved: list[str], bundled: list[str]) -> list[str]:
    """The resolved jars whose artifact Spark does not already ship (never two versions of one)."""
    shipped = {artifact_name(jar) for jar in bundled}
    return sorted(jar for jar in resolved if artifact_name(jar) not in shipped)


def _resolve_in_this_process(packages: str, ivy_dir: Path) -> None:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("smartmeter-install-jars")
        .config("spark.ui.enabled", "false")
        .config("spark.jars.packages", packages)
        .config("spark.jars.ivy", str(ivy_dir))
        .getOrCreate()
    )
    session.stop()


def resolve(packages: tuple[str, ...], ivy_dir: Path) -> list[Path]:
    """Resolve ``packages`` and their dependencies into ``<ivy_dir>/jars``; the jars resolved for them."""
    target = ivy_dir / "resolutions" / re.sub(r"[^A-Za-z0-9.]+", "_", ",".join(packages))[:150]
    if target.exists():
        shutil.rmtree(target)  # Ivy's jars/ would keep jars of earlier resolutions
    target.mkdir(parents=True)
    cache = ivy_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (target / "cache").symlink_to(cache.resolve())  # downloads shared by every resolution
    started = time.monotonic()
    command = [sys.executable, "-m", "smartmeter_assets.jars", "_resolve", ",".join(packages), "--ivy", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    (target / "resolve.log").write_text(done.stdout + done.stderr)  # Ivy is verbose: kept, not printed
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise JarsMissingError(f"resolving {', '.join(packages)} failed (exit {done.returncode}):\n{tail}")
    jars = sorted((target / "jars").glob("*.jar"))
    if not jars:
        raise JarsMissingError(f"Ivy resolved nothing for {packages} into {target}/jars")
    log.info("resolved %d jars for %s in %.0fs", len(jars), ", ".join(packages), time.monotonic() - started)
    return jars


def download_artifact(coordinates: str, into: Path) -> Path:
    """One jar from Maven Central, checked against the SHA-1 Central publishes beside it."""
    group, artifact, version = coordinates.split(":")
    name = f"{artifact}-{version}.jar"
    url = f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    with urllib.request.urlopen(url + ".sha1", timeout=60) as response:
        expected = response.read().decode().split()[0].strip()
    if hashlib.sha1(data).hexdigest() != expected:
        raise JarsMissingError(f"{url}: SHA-1 mismatch (expected {expected})")
    target = into / f"{group}_{name}"
    target.write_bytes(data)
    return target


def verify_spark_classes() -> None:
    """Start a local session and load every class the stream needs (a failed install says which)."""
    code = (
        "from pyspark.sql import SparkSession\n"
        "s = SparkSession.builder.master('local[1]').config('spark.ui.enabled','false').getOrCreate()\n"
        "jvm = s.sparkContext._jvm\n"
        f"[jvm.java.lang.Class.forName(name) for name in {list(SPARK_REQUIRED_CLASSES)!r}]\n"
        "s.stop()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def install_spark_jars(ivy_dir: Path) -> list[str]:
    """Copy the connector jars Spark lacks into pyspark's ``jars/`` (driver and executors share it)."""
    target = spark_jars_dir()
    resolved = resolve(SPARK_PACKAGES, ivy_dir)
    added = jars_to_add([jar.name for jar in resolved], [jar.name for jar in target.glob("*.jar")])
    by_name = {jar.name: jar for jar in resolved}
    for name in added:
        shutil.copy2(by_name[name], target / name)
    verify_spark_classes()
    return added


def install_kafka_broker(ivy_dir: Path) -> Path:
    """The broker's jars into :func:`kafka_broker_dir` (replaced whole, marked complete last)."""
    target = kafka_broker_dir()
    if (target / COMPLETE_MARKER).is_file():
        return target
    resolved = resolve(KAFKA_BROKER_PACKAGES, ivy_dir)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for jar in resolved:
        shutil.copy2(jar, staging / jar.name)
    download_artifact(KAFKA_SCALA_LIBRARY, staging)
    (staging / COMPLETE_MARKER).write_text(",".join(KAFKA_BROKER_PACKAGES) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def spark_jars_installed() -> bool:
    present = {artifact_name(jar.name) for jar in spark_jars_dir().glob("*.jar")}
    return all(package.split(":")[1] in present for package in SPARK_PACKAGES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smartmeter install-jars", description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=["all", "spark", "kafka", "_resolve"], default="all")
    parser.add_argument("packages", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--ivy", type=Path, default=None, help="Ivy cache folder (default ~/.cache/smartmeter/ivy)")
    args = parser.parse_args(argv)
    if args.what == "_resolve":  # the child process of resolve()
        _resolve_in_this_process(args.packages, args.ivy)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ivy_dir = args.ivy or default_ivy_dir()
    if args.what in ("all", "spark"):
        if spark_jars_installed():
            log.info("Spark connector jars already in %s", spark_jars_dir())
        else:
            for name in install_spark_jars(ivy_dir):
                log.info("added to Spark: %s", name)
    if args.what in ("all", "kafka"):
        log.info("Apache Kafka %s broker jars in %s", KAFKA_RELEASE, install_kafka_broker(ivy_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
