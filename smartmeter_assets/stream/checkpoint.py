"""Where the stream's Spark checkpoint lives, and what it says was committed (no Spark needed).

The sensor's lag figure (topic end offsets minus committed offsets) must not start a JVM, so the
committed offsets are read straight from Spark's checkpoint files: ``commits/<n>`` marks batch
``n`` done and ``offsets/<n>`` holds, one JSON line per source after a version and a metadata
line, the end offset of that batch.

It also records which topic it was made for (``smartmeter-topic.json``: name and Kafka's topic id):
Spark's checkpoint knows offsets, not topics, so a topic deleted and created again under the same
name would look like offsets gone backwards (data loss) to Spark. :func:`guard_topic` decides
before the query starts: a recreated topic gets a new checkpoint, read from its beginning.

Spark writes each log entry as a hidden temporary file and renames it into place. A job killed
between the two leaves the temporary file (and its ``.crc``) behind; on batch 0 Spark then finds the
log not empty and refuses every restart. :func:`remove_unrenamed_writes` clears them first.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from smartmeter_assets.contracts import CHECKPOINTS_DIR
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings

log = logging.getLogger(__name__)

#: Spark's write-then-rename temporaries in its logs: ``.<batch>.<uuid>.tmp`` and ``..<batch>.<uuid>.tmp.crc``.
UNRENAMED_WRITE = re.compile(r"^\.\.?\d+\.[0-9a-fA-F-]+\.tmp(\.crc)?$")
#: The logs Spark checks are empty before batch 0 (``MicroBatchExecution.verifyNewCheckpointDirectory``).
CHECKPOINT_LOGS = ("offsets", "commits")

#: Beside Spark's own files in the checkpoint folder (Spark ignores what it did not write).
TOPIC_MARKER = "smartmeter-topic.json"


def checkpoint_location(settings: Settings) -> str:
    """``stream_checkpoint_url`` when set, else ``<lake>/checkpoints/<query name>`` as Spark spells it."""
    if settings.stream_checkpoint_url:
        url = settings.stream_checkpoint_url
        return url if "://" in url else str(Path(url).resolve())
    return Lake.from_settings(settings).spark_url(CHECKPOINTS_DIR, settings.stream_query_name)


def partition_offsets(source_offset: dict[str, Any] | str, topic: str | None = None) -> dict[int, int]:
    """``{partition: next offset}`` from the kafka source's offset JSON ``{"<topic>": {"0": 12}}``."""
    data = json.loads(source_offset) if isinstance(source_offset, str) else source_offset
    topics = [t for t in data if topic is None or t == topic]
    return {int(p): int(o) for t in topics for p, o in data[t].items()}


def _batch_numbers(fs: pafs.FileSystem, folder: str) -> list[int]:
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return sorted(int(info.base_name) for info in infos if info.base_name.isdigit())


def _checkpoint_filesystem(location: str, allow_http: bool) -> tuple[pafs.FileSystem, str]:
    """The checkpoint folder as (filesystem, path): a local folder, or S3 (``s3a://``) in production."""
    if location.startswith(("s3a://", "s3://")):
        lake = Lake(location.replace("s3a://", "s3://", 1), allow_http)
        return lake.filesystem()
    return pafs.LocalFileSystem(), location.removeprefix("file://")


def committed_offsets(settings: Settings) -> dict[int, int]:
    """Next offset per partition after the last committed batch ({} before the first one)."""
    fs, root = _checkpoint_filesystem(checkpoint_location(settings), settings.s3_allow_http)
    committed = _batch_numbers(fs, f"{root}/commits")
    if not committed:
        return {}
    with fs.open_input_stream(f"{root}/offsets/{committed[-1]}") as stream:
        lines = stream.read().decode().splitlines()
    sources = [line for line in lines[2:] if line.strip() and line.strip() != "-"]
    if not sources:
        return {}
    return partition_offsets(sources[0], settings.kafka_topic)


def _read_marker(fs: pafs.FileSystem, root: str) -> dict[str, Any] | None:
    try:
        with fs.open_input_stream(f"{root}/{TOPIC_MARKER}") as stream:
            return dict(json.loads(stream.read().decode()))
    except (FileNotFoundError, OSError, ValueError):
        return None


def _write_marker(fs: pafs.FileSystem, root: str, topic: str, topic_id: str | None) -> None:
    fs.create_dir(root, recursive=True)
    with fs.open_output_stream(f"{root}/{TOPIC_MARKER}") as stream:
        stream.write(json.dumps({"topic": topic, "topic_id": topic_id}).encode())


def guard_topic(location: str, topic: str, topic_id: str | None, allow_http: bool = False) -> bool:
    """Make the checkpoint at ``location`` one for this topic; True when an old one was set aside.

    A checkpoint made for another incarnation of the topic (same name, another Kafka topic id) is
    moved aside (local folder) or deleted (S3), logged as a WARNING: the new topic is read from
    its beginning under a new checkpoint identity, and what ``raw/`` already holds is recognised by
    key and not written twice. A checkpoint without a marker (made before markers existed) is
    adopted for the current topic.
    """
    fs, root = _checkpoint_filesystem(location, allow_http)
    marker = _read_marker(fs, root)
    reset = False
    if marker is not None and marker.get("topic_id") != topic_id:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        if isinstance(fs, pafs.LocalFileSystem):
            aside = f"{root}.replaced-{stamp}"
            fs.move(root, aside)
            where = f"moved aside to {aside}"
        else:
            fs.delete_dir(root)
            where = "deleted"
        log.warning(
            "topic %s was recreated (topic id %s -> %s): its offsets start again, so the checkpoint "
            "made for the old topic (%s) was %s and the new topic is read from its beginning; "
            "readings already in raw/ are recognised by key and not written twice",
            topic, marker.get("topic_id"), topic_id, location, where,
        )  # fmt: skip
        reset = True
    if reset or marker is None:
        _write_marker(fs, root, topic, topic_id)
    return reset


def remove_unrenamed_writes(location: str, allow_http: bool = False) -> list[str]:
    """Delete the temporary files a killed job left in the checkpoint's logs; return their paths.

    Such a file was never renamed into the log, so Spark never read it and no batch depends on it:
    the restarted query plans that batch again from the last committed one. Left in place, it makes
    Spark refuse to start batch 0 (STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY). Called before the
    query starts, when no query of this job runs on the checkpoint.
    """
    fs, root = _checkpoint_filesystem(location, allow_http)
    removed = []
    for folder in CHECKPOINT_LOGS:
        for info in fs.get_file_info(pafs.FileSelector(f"{root}/{folder}", allow_not_found=True)):
            if info.type == pafs.FileType.File and UNRENAMED_WRITE.match(info.base_name):
                fs.delete_file(info.path)
                removed.append(info.path)
    if removed:
        log.warning(
            "checkpoint %s: removed %d file(s) a killed job wrote but never renamed into Spark's log "
            "(Spark would refuse to restart on them; the batch is planned again): %s",
            location, len(removed), ", ".join(sorted(removed)),
        )  # fmt: skip
    return removed
