"""The ``smartmeter`` command: the user's entry point to the pipeline."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import NoReturn

from pyarrow import ArrowException
from tqdm import tqdm

from smartmeter_assets.contracts import HOUSEHOLDS_FILE, WEATHER_DAILY_FILE, WEATHER_HOURLY_FILE
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.sample_data.spec import (
    REAL_HOUSEHOLDS_PER_BLOCK,
    REAL_LAYOUT_FROM_HOUSEHOLDS,
    SMALL_SAMPLE_HOUSEHOLDS_PER_BLOCK,
)
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.households import read_households
from smartmeter_assets.sources.readings import block_files, read_block
from smartmeter_assets.sources.source_read import SourceFileError, SourceRead
from smartmeter_assets.sources.weather import read_weather_daily, read_weather_hourly

log = logging.getLogger("smartmeter")


def _sample(args: argparse.Namespace) -> int:
    try:
        spec = SampleSpec(
            households=args.households,
            days=args.days,
            start=args.start,
            seed=args.seed,
            households_per_block=args.households_per_block,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # the bar appears only for generations that take over a second (the full-scale ones)
    with tqdm(unit="rows", unit_scale=True, desc="writing blocks", delay=1.0, disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        counts = generate(Path(args.out), spec, progress)
    for name, value in counts.items():
        print(f"{name:>20}: {value:,}")
    print(f"written to {args.out}")
    return 0


def _print_read(read: SourceRead, span: str) -> None:
    values = read.frame[span].dropna()
    first, last = (values.min(), values.max()) if len(values) else ("-", "-")
    rejects = ", ".join(f"{k}={v:,}" for k, v in sorted(read.rejects_by_reason().items())) or "none"
    print(
        f"{read.source_file:<34} rows {read.rows_read:>12,}  kept {len(read.frame):>12,}  "
        f"duplicates {read.duplicates_dropped:>7,}  span {first} .. {last}  rejects: {rejects}"
    )


def _check_data(args: argparse.Namespace) -> int:
    """Read all four sources like the assets do, without writing anything.

    An unreadable file ends the command with one line naming it and why, and exit status 2; the
    rows a readable file cannot give are counted by reason, as the assets count them.
    """
    data_dir = Path(args.data_dir)
    reading: Path = data_dir
    try:
        if not data_dir.is_dir():
            raise SourceFileError(f"{data_dir}: {'not a folder' if data_dir.exists() else 'folder not found'}")
        for reader, span, source in (
            (read_households, "meter_id", HOUSEHOLDS_FILE),
            (read_weather_hourly, "time", WEATHER_HOURLY_FILE),
            (read_weather_daily, "day", WEATHER_DAILY_FILE),
        ):
            reading = data_dir / source
            _print_read(reader(data_dir), span)
        blocks = block_files(data_dir)
        if not blocks:
            raise SourceFileError(
                f"no reading blocks under {data_dir} "
                "(expected halfhourly_dataset/block_N.csv or halfhourly_dataset_block_N.csv)"
            )
        totals: Counter[str] = Counter()
        rejects: Counter[str] = Counter()
        first, last = [], []
        with tqdm(blocks, unit="block", desc="reading blocks", disable=args.quiet) as bar:
            for path in bar:
                reading = path
                read = read_block(path)
                totals.update(rows=read.rows_read, kept=len(read.frame), duplicates=read.duplicates_dropped)
                rejects.update(read.rejects_by_reason())
                if len(read.frame):
                    first.append(read.frame["timestamp"].min())
                    last.append(read.frame["timestamp"].max())
                bar.set_postfix(rows=f"{totals['rows']:,}")
    except SourceFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, ArrowException) as error:  # a damage the readers did not foresee
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"error: {reading}: unreadable ({type(error).__name__}: {reason})", file=sys.stderr)
        return 2
    reasons = ", ".join(f"{k}={v:,}" for k, v in sorted(rejects.items())) or "none"
    span = f"{min(first)} .. {max(last)}" if first else "-"
    print(
        f"{'readings (' + str(len(blocks)) + ' blocks)':<34} rows {totals['rows']:>12,}  kept {totals['kept']:>12,}  "
        f"duplicates {totals['duplicates']:>7,}  span {span}  rejects: {reasons}"
    )
    return 0


def _up(args: argparse.Namespace) -> int:
    from smartmeter_assets.embedded import up

    return up(Settings(), port=args.port, demo=not args.no_replay)


def _run(args: argparse.Namespace) -> int:
    from smartmeter_assets.headless import NothingToPublishError, PipelineRunError, run_pipeline

    overrides = {"data_dir": Path(args.data_dir)} if args.data_dir else {}
    settings = Settings(**overrides)
    try:
        summary = run_pipeline(settings, days=args.days, first_day=args.first_day, progress=not args.quiet)
    except NothingToPublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PipelineRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from smartmeter_assets.reports.cli import print_report

    print_report(settings)
    for name in summary.failed_checks:
        print(f"check failed: {name}", file=sys.stderr)
    for name in summary.reports_failed:
        print(f"report failed: {name}", file=sys.stderr)
    print(summary.line())
    return 1 if summary.checks_failed or summary.reports_failed else 0


def _report(args: argparse.Namespace) -> int:
    from smartmeter_assets.reports.cli import print_json, print_report

    return print_json(Settings()) if args.json else print_report(Settings())


def _inject(args: argparse.Namespace) -> int:
    from smartmeter_assets.sample_data.injection import InjectionError, InjectionSpec, inject

    try:
        spec = InjectionSpec(
            seed=args.seed,
            events_per_kind=args.events_per_kind,
            first_day=args.start,
            days=args.days,
            lasting=args.lasting,
        )
        counts = inject(Path(args.data_dir), Path(args.out), spec)
    except InjectionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, value in counts.items():
        print(f"{name:>30}: {value:,}")
    print(f"written to {args.out}")
    return 0


def _init_infra(args: argparse.Namespace) -> int:
    """Create the topic (and the bucket when the lake is on S3), idempotently, by code."""
    from smartmeter_assets.kafka.access import KafkaAccessError
    from smartmeter_assets.kafka.broker import resolve_bootstrap
    from smartmeter_assets.kafka.security import KafkaSecurity
    from smartmeter_assets.kafka.topic import KafkaUnreachableError, ensure_topic

    settings = Settings()
    if settings.lake_is_s3:
        from smartmeter_assets.lake.bucket import bucket_of, ensure_bucket
        from smartmeter_assets.lake.storage import check_transport, s3_endpoint

        check_transport(s3_endpoint(), settings.s3_allow_http)  # boto3 would send the keys over http

        bucket = bucket_of(settings.lake_root)
        print(f"bucket {bucket}: {'created' if ensure_bucket(bucket) else 'exists'}")
    bootstrap = resolve_bootstrap(settings.kafka_bootstrap, settings.home)
    try:
        state = ensure_topic(
            bootstrap, settings.kafka_topic, settings.kafka_partitions, settings.kafka_replication_factor,
            security=KafkaSecurity.from_settings(settings),
        )  # fmt: skip
    except (KafkaAccessError, KafkaUnreachableError) as refused:  # one line an operator can act on
        print(f"init-infra: {refused}", file=sys.stderr)
        return 1
    print(f"topic {state.topic}: {state.partitions} partitions ({'created' if state.created else 'exists'})")
    return 0


def _install_jars(args: argparse.Namespace) -> int:
    from smartmeter_assets.jars import JarsMissingError
    from smartmeter_assets.jars import main as install
    from smartmeter_assets.stream.class_archive import ClassArchiveError, build_archive

    try:
        installed = install([args.what, *(["--ivy", args.ivy] if args.ivy else [])])
        if installed == 0 and args.what in ("all", "spark") and args.class_archive:
            build_archive()  # the driver's classes, now that its jars are all in place
        return installed
    except (JarsMissingError, ClassArchiveError) as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _cluster(args: argparse.Namespace) -> int:
    """The local production topology: compose's services as supervised processes on 127.0.0.1."""
    import json

    from smartmeter_assets.cluster import supervisor
    from smartmeter_assets.cluster.process import ServiceError

    home = Settings().home
    try:
        if args.action == "install":
            from smartmeter_assets.cluster.minio import build

            path, seconds = build()
            print(f"MinIO: {path}" + (f" (built in {seconds:.0f}s)" if seconds else " (already built)"))
            return 0
        if args.action == "up":
            state = supervisor.up(home, stream=not args.no_stream)
            print(json.dumps(state, indent=1))
            return 0
        if args.action == "down":
            print("stopped" if supervisor.down(home) else "no cluster was running")
            return 0
        if args.action == "status":
            state = supervisor.status(home)
            print(json.dumps(state, indent=1))
            return 0 if state["status"] == "ready" else 1
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from smartmeter_assets.cluster.check import run_check

    report = run_check(home / "cluster-check", days=args.days, data_dir=Path(args.data_dir) if args.data_dir else None)
    for name in report.failed_checks:
        print(f"check failed: {name}", file=sys.stderr)
    print(report.line())
    return 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartmeter", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample", help="generate Kaggle-format sample data with known anomalies")
    sample.add_argument("--households", type=int, default=SampleSpec.households)
    sample.add_argument("--days", type=int, default=SampleSpec.days)
    sample.add_argument("--start", type=date.fromisoformat, default=SampleSpec.start)
    sample.add_argument("--seed", type=int, default=SampleSpec.seed)
    sample.add_argument(
        "--households-per-block",
        type=int,
        default=SampleSpec.households_per_block,
        help=f"households per block_N.csv (default: {REAL_HOUSEHOLDS_PER_BLOCK} as in the real files, 5,566 "
        f"households in 112 blocks; {SMALL_SAMPLE_HOUSEHOLDS_PER_BLOCK} for a sample under "
        f"{REAL_LAYOUT_FROM_HOUSEHOLDS} households, so that it still has several)",
    )
    sample.add_argument("--quiet", action="store_true", help="no progress bar")
    sample.add_argument("--out", required=True, help="folder to write (its reading blocks are replaced)")
    sample.set_defaults(handler=_sample)

    check = commands.add_parser("check-data", help="read the four sources and report counts and rejects")
    check.add_argument("--data-dir", required=True)
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(handler=_check_data)

    up = commands.add_parser("up", help="the whole pipeline on this machine; Dagster UI on 127.0.0.1")
    up.add_argument("--port", type=int, default=3000)
    up.add_argument("--no-replay", action="store_true", help="do not turn the replay clock on")
    up.set_defaults(handler=_up)

    run = commands.add_parser("run", help="the pipeline headless; prints one JSON summary line")
    run.add_argument("--data-dir", help="Kaggle-format data folder (default: SMARTMETER_DATA_DIR or data/sample)")
    run.add_argument(
        "--from",
        dest="first_day",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="publish from this day on (default: the first staged day)",
    )
    run.add_argument("--days", type=_positive, help="publish only N staged days (from --from, or the first)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="print the headline numbers of the reports and their plots")
    report.add_argument("--json", action="store_true", help="one JSON object: anomaly quality and forecast")
    report.set_defaults(handler=_report)

    inject = commands.add_parser(
        "inject", help="copy a Kaggle-format folder with anomalies of every kind injected, plus their ground truth"
    )
    inject.add_argument("--data-dir", required=True, help="the Kaggle-format folder to copy (left unchanged)")
    inject.add_argument("--out", required=True, help="the folder to write")
    inject.add_argument("--seed", type=int, default=0)
    inject.add_argument("--events-per-kind", type=int, help="default: one per 1,000 meter-days, at least one")
    inject.add_argument("--start", type=date.fromisoformat, help="first London day that may take an event")
    inject.add_argument("--days", type=int, help="only this many days from --start (or the data's first day)")
    inject.add_argument(
        "--lasting", action="store_true", help="night use on 3-7 nights running, surges on 1-3 weekends running"
    )
    inject.set_defaults(handler=_inject)

    infra = commands.add_parser("init-infra", help="create the Kafka topic and the S3 bucket by code")
    infra.set_defaults(handler=_init_infra)

    cluster = commands.add_parser(
        "cluster", help="docker-compose.yml's services as local processes (Kafka, MinIO, Spark, Postgres, Dagster)"
    )
    cluster.add_argument(
        "action",
        choices=["up", "down", "status", "check", "install"],
        help="up/down/status: the supervised cluster under SMARTMETER_HOME/cluster; check: the fault-injection "
        "check on a fresh one (one JSON line); install: build MinIO (the pinned Go module version)",
    )
    cluster.add_argument("--no-stream", action="store_true", help="up: leave the stream's sensor off")
    cluster.add_argument("--days", type=int, default=8, help="check: days of the data to replay (4+)")
    cluster.add_argument("--data-dir", help="check: Kaggle-format data folder (default: data/sample)")
    cluster.set_defaults(handler=_cluster)

    jars = commands.add_parser(
        "install-jars",
        help="fetch the pinned jars (Spark's Kafka connector, S3A; the Kafka broker) at install time, "
        "then write the Spark driver's class archive",
    )
    jars.add_argument("what", nargs="?", choices=["all", "spark", "kafka"], default="all")
    jars.add_argument("--ivy", help="Ivy cache folder (default ~/.cache/smartmeter/ivy)")
    jars.add_argument(
        "--no-class-archive",
        dest="class_archive",
        action="store_false",
        help="skip the driver's class archive (a driver whose Spark conf folder is not empty cannot use one)",
    )
    jars.set_defaults(handler=_install_jars)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # kafka-python narrates every producer's connect and close at INFO
        logging.getLogger("kafka").setLevel(logging.WARNING)
    return int(args.handler(args))


def run() -> NoReturn:
    """The ``smartmeter`` console script: :func:`main`, ending with its status (exit_status.py)."""
    run_entry_point(main)


if __name__ == "__main__":
    run()
