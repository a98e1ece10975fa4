"""Where the stream's Spark checkpoint lives, and what it says was committed (no Spark needed).

The sensor's lag figure (topic end offsets minus committed offsets) must not start a JVM, so the
committed offsets are read straight from Spark's checkpoint files: ``commits/<n>`` marks batch
``n`` done and ``offsets/<n>`` holds, one JSON line per source after a version and a metadata
line, the end offset of that batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from smartmeter_assets.contracts import CHECKPOINTS_DIR
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings


def checkpoint_location(settings: Settings) -> str:
    """``stream_checkpoint_url`` when set, else ``<lake>/checkpoints/<query name>`` as Spark spells it."""
    if settings.stream_checkpoint_url:
        url = settings.stream_checkpoint_url
        return url if "://" in url else str(Path(url).resolve())
    return Lake.from_settings(settings).spark_url(CHECKPOINTS_DIR, settings.stream_query_name)


def partition_offsets(source_offset: dict[str, Any] | str, topic: str | None = None) -> dict[int, int]:
    """``{partition: next offset}`` from either source's offset JSON.

    Ours: ``{"topic": ..., "topic_id": ..., "offsets": {"0": 12}}``; Spark's native kafka source:
    ``{"<topic>": {"0": 12}}``.
    """
    data = json.loads(source_offset) if isinstance(source_offset, str) else source_offset
    if "offsets" in data and isinstance(data["offsets"], dict):
        return {int(p): int(o) for p, o in data["offsets"].items()}
    topics = [t for t in data if topic is None or t == topic]
    return {int(p): int(o) for t in topics for p, o in data[t].items()}


def _batch_numbers(fs: pafs.FileSystem, folder: str) -> list[int]:
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return sorted(int(info.base_name) for info in infos if info.base_name.isdigit())


def _checkpoint_filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The checkpoint folder as (filesystem, path): a local folder, or S3 (``s3a://``) in production."""
    if location.startswith(("s3a://", "s3://")):
        lake = Lake(location.replace("s3a://", "s3://", 1))
        return lake.filesystem()
    return pafs.LocalFileSystem(), location.removeprefix("file://")


def committed_offsets(settings: Settings) -> dict[int, int]:
    """Next offset per partition after the last committed batch ({} before the first one)."""
    fs, root = _checkpoint_filesystem(checkpoint_location(settings))
    committed = _batch_numbers(fs, f"{root}/commits")
    if not committed:
        return {}
    with fs.open_input_stream(f"{root}/offsets/{committed[-1]}") as stream:
        lines = stream.read().decode().splitlines()
    sources = [line for line in lines[2:] if line.strip() and line.strip() != "-"]
    if not sources:
        return {}
    return partition_offsets(sources[0], settings.kafka_topic)
