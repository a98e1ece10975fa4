"""The ``smartmeter`` command: the user's entry point to the pipeline."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from tqdm import tqdm

from smartmeter_assets.sample_data.generator import SampleSpec, generate
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
    """Read all four sources like the assets do, without writing anything."""
    data_dir = Path(args.data_dir)
    try:
        for reader, span in (
            (read_households, "meter_id"),
            (read_weather_hourly, "time"),
            (read_weather_daily, "day"),
        ):
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
    from smartmeter_assets.headless import PipelineRunError, run_pipeline

    overrides = {"data_dir": Path(args.data_dir)} if args.data_dir else {}
    settings = Settings(**overrides)
    try:
        summary = run_pipeline(settings, days=args.days, progress=not args.quiet)
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
    from smartmeter_assets.reports.cli import print_report

    return print_report(Settings())


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

    try:
        return install([args.what, *(["--ivy", args.ivy] if args.ivy else [])])
    except JarsMissingError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2


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
        help="households per block_N.csv (the real files hold 50: 5,566 households in 112 blocks)",
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
    run.add_argument("--days", type=int, help="publish only the first N staged days")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="print the headline numbers of the reports and their plots")
    report.set_defaults(handler=_report)

    infra = commands.add_parser("init-infra", help="create the Kafka topic and the S3 bucket by code")
    infra.set_defaults(handler=_init_infra)

    jars = commands.add_parser(
        "install-jars", help="fetch the pinned jars (Spark's Kafka connector, S3A; the Kafka broker) at install time"
    )
    jars.add_argument("what", nargs="?", choices=["all", "spark", "kafka"], default="all")
    jars.add_argument("--ivy", help="Ivy cache folder (default ~/.cache/smartmeter/ivy)")
    jars.set_defaults(handler=_install_jars)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
