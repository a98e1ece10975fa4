"""Staged readings: Parquet under ``<lake>/sources/readings/reading_date=YYYY-MM-DD/``.

Why stage: the readings of one day are spread over all 112 CSV blocks, so publishing a day
straight from the CSVs would rescan 7 GB. Staging once, partitioned by reading date, lets the
daily assets read one folder. Each block writes its own files (``<block>-<n>.parquet``) and a
manifest of them, so re-staging a block replaces exactly its files, and a block whose source file
has not changed (same size and mtime) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from smartmeter_assets.contracts import (
    DATASET_FIRST_DAY,
    DATASET_LAST_DAY,
    SOURCES_DIR,
    STAGED_READING_COLUMNS,
    STAGED_READING_TYPES,
)
from smartmeter_assets.lake.schema import arrow_schema
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sources.readings import block_name, read_block_table

READINGS_DIR = "readings"
MANIFESTS_DIR = "readings_manifests"
REJECTS_DIR = "rejects"

STAGED_READING_SCHEMA = arrow_schema(STAGED_READING_TYPES)
#: What one staged file holds (the date is in its folder name).
_FILE_SCHEMA = pa.schema([f for f in STAGED_READING_SCHEMA if f.name != "reading_date"])
#: The folders: ``reading_date=YYYY-MM-DD`` (Hive style).
STAGED_PARTITIONING = pads.partitioning(pa.schema([STAGED_READING_SCHEMA.field("reading_date")]), flavor="hive")


@dataclass
class BlockManifest:
    """What staging one block produced; kept so unchanged blocks are skipped and totals still add up."""

    block: str
    source_file: str
    source_size: int
    source_mtime_ns: int
    rows_read: int
    rows_staged: int
    duplicates_dropped: int
    rejects: dict[str, int]
    first_timestamp: str | None
    last_timestamp: str | None
    meters: int
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _manifest_path(lake: Lake, block: str) -> str:
    return lake.path(SOURCES_DIR, MANIFESTS_DIR, f"{block}.json")


def read_manifest(lake: Lake, block: str) -> BlockManifest | None:
    fs, _ = lake.filesystem()
    try:
        with fs.open_input_stream(_manifest_path(lake, block)) as stream:
            return BlockManifest(**json.loads(stream.read()))
    except (FileNotFoundError, OSError, TypeError, ValueError):
        return None


def _write_manifest(lake: Lake, manifest: BlockManifest) -> None:
    fs, _ = lake.filesystem()
    fs.create_dir(lake.path(SOURCES_DIR, MANIFESTS_DIR), recursive=True)
    with fs.open_output_stream(_manifest_path(lake, manifest.block)) as stream:
        stream.write(json.dumps(asdict(manifest), indent=1).encode())


def stage_block(lake: Lake, path: Path, *, force: bool = False) -> tuple[BlockManifest, bool]:
    """Read one CSV block and stage it by date; returns its manifest and whether it was (re)staged."""
    block = block_name(path)
    stat = path.stat()
    previous = read_manifest(lake, block)
    if (
        not force
        and previous is not None
        and previous.source_size == stat.st_size
        and previous.source_mtime_ns == stat.st_mtime_ns
    ):
        return previous, False

    started = time.perf_counter()
    read = read_block_table(path)
    fs, _ = lake.filesystem()
    for old in previous.files if previous else []:
        with contextlib.suppress(FileNotFoundError):  # already gone: nothing to replace
            fs.delete_file(old)
        folder = old.rsplit("/", 1)[0]
        if not fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
            with contextlib.suppress(FileNotFoundError, OSError):  # S3 has no empty folders to remove
                fs.delete_dir(folder)

    written: list[str] = []
    table = read.table.cast(STAGED_READING_SCHEMA)
    if table.num_rows:
        pads.write_dataset(
            table.sort_by([("reading_date", "ascending"), ("meter_id", "ascending")]),
            lake.path(SOURCES_DIR, READINGS_DIR),
            filesystem=fs,
            format="parquet",
            partitioning=STAGED_PARTITIONING,
            basename_template=f"{block}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            max_partitions=100_000,
            file_visitor=lambda written_file: written.append(written_file.path),
        )
    rejects_path = lake.path(SOURCES_DIR, REJECTS_DIR, READINGS_DIR, f"{block}.parquet")
    if len(read.rejects):
        fs.create_dir(lake.path(SOURCES_DIR, REJECTS_DIR, READINGS_DIR), recursive=True)
        pq.write_table(pa.Table.from_pandas(read.rejects, preserve_index=False), rejects_path, filesystem=fs)

    stamps = table["timestamp"]
    manifest = BlockManifest(
        block=block,
        source_file=path.name,
        source_size=stat.st_size,
        source_mtime_ns=stat.st_mtime_ns,
        rows_read=read.rows_read,
        rows_staged=table.num_rows,
        duplicates_dropped=read.duplicates_dropped,
        rejects=read.rejects_by_reason(),
        first_timestamp=str(pc.min(stamps).as_py()) if len(stamps) else None,
        last_timestamp=str(pc.max(stamps).as_py()) if len(stamps) else None,
        meters=pc.count_distinct(table["meter_id"]).as_py(),
        files=written,
        seconds=round(time.perf_counter() - started, 3),
    )
    _write_manifest(lake, manifest)
    return manifest, True


def staged_dataset(lake: Lake) -> pads.Dataset | None:
    """All staged readings as one Arrow dataset (None before anything was staged)."""
    fs, _ = lake.filesystem()
    root = lake.path(SOURCES_DIR, READINGS_DIR)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return None
    return pads.dataset(
        root,
        filesystem=fs,
        format="parquet",
        schema=STAGED_READING_SCHEMA,
        partitioning=STAGED_PARTITIONING,
    )


def read_staged_day(lake: Lake, day: date) -> pd.DataFrame:
    """One day's readings from every block, reading only that day's folder, in (time, meter) order."""
    frame = read_staged_table(lake, day).to_pandas()
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    return frame.sort_values(["timestamp", "meter_id"], kind="stable").reset_index(drop=True)


def read_staged_table(lake: Lake, day: date) -> pa.Table:
    """One day's readings from every block as Arrow (``STAGED_READING_SCHEMA``), in file order."""
    fs, _ = lake.filesystem()
    folder = lake.path(SOURCES_DIR, READINGS_DIR, f"reading_date={day.isoformat()}")
    info = fs.get_file_info(folder)
    if info.type != pafs.FileType.Directory:
        table = STAGED_READING_SCHEMA.empty_table()
    else:
        table = pads.dataset(folder, filesystem=fs, format="parquet", schema=_FILE_SCHEMA).to_table()
        table = table.append_column(
            "reading_date", pa.array([day] * table.num_rows, type=STAGED_READING_SCHEMA.field("reading_date").type)
        )
        table = table.select(list(STAGED_READING_COLUMNS)).cast(STAGED_READING_SCHEMA)
    return table


def staged_days(lake: Lake) -> list[date]:
    """The reading dates present in the staging area (from the folder names, no data read)."""
    fs, _ = lake.filesystem()
    root = lake.path(SOURCES_DIR, READINGS_DIR)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return []
    days = []
    for info in fs.get_file_info(pafs.FileSelector(root)):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith("reading_date="):
            days.append(date.fromisoformat(name.removeprefix("reading_date=")))
    return sorted(days)


def publishable_days(lake: Lake) -> list[date]:
    """Staged days inside the dataset's span (the daily partitions). Readings staged outside it are
    not published; the ``readings`` value-range check counts and flags them instead."""
    return [day for day in staged_days(lake) if DATASET_FIRST_DAY <= day <= DATASET_LAST_DAY]
