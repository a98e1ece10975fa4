"""Half-hourly reading blocks: ``halfhourly_dataset/block_N.csv`` (or ``halfhourly_dataset_block_N.csv``).

The full dataset is 167 million rows in 112 blocks of 56-70 MB, so a block is read with pyarrow's
multithreaded CSV reader and cleaned with vectorised Arrow/pandas operations, never a Python loop
per row. Quirks handled (read off real copies): energy padded with spaces or the string ``Null``,
timestamps with or without a ``.0000000`` suffix, off-grid stamps (kept as read), exact duplicate
rows (dropped once, counted), rows of the wrong width (rejected with their text).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import (
    ENERGY_NULL_TOKEN,
    READING_COLUMNS,
    READINGS_GLOBS,
    STAGED_READING_COLUMNS,
    TIMESTAMP_FORMAT,
    TIMESTAMP_LENGTH,
    SourceRejectReason,
)
from smartmeter_assets.sources.source_read import SourceRead, make_rejects, malformed_rejects, read_text_table

_BLOCK_NUMBER = re.compile(r"block_(\d+)\.csv$")
#: A plain decimal number (what the source writes); anything else is not a reading.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
METER, STAMP, ENERGY = READING_COLUMNS


def block_files(data_dir: Path) -> list[Path]:
    """All reading blocks under ``data_dir``, in block-number order, both layouts accepted."""
    found = {path for pattern in READINGS_GLOBS for path in data_dir.glob(pattern)}

    def number(path: Path) -> tuple[int, str]:
        match = _BLOCK_NUMBER.search(path.name)
        return (int(match.group(1)) if match else 1 << 30, path.name)

    return sorted(found, key=number)


def block_name(path: Path) -> str:
    """``block_N`` for either layout (what ``informations_households.csv`` calls it)."""
    match = _BLOCK_NUMBER.search(path.name)
    return f"block_{match.group(1)}" if match else path.stem


def read_block(path: Path) -> SourceRead:
    """One block as clean readings (``contracts.STAGED_READING_COLUMNS``) plus counted rejects."""
    table, malformed = read_text_table(
        path,
        READING_COLUMNS,
        what="readings block",
        use_threads=True,  # 56-70 MB a block: worth the cores (a wrong-width row may lose its line number)
        block_size=16 << 20,
        include_columns=READING_COLUMNS,
    )
    meter = pc.utf8_trim_whitespace(table[METER])
    stamp_text = pc.utf8_trim_whitespace(table[STAMP])
    energy_text = pc.utf8_trim_whitespace(table[ENERGY])

    stamp = pc.strptime(
        pc.utf8_slice_codeunits(stamp_text, 0, TIMESTAMP_LENGTH),
        format=TIMESTAMP_FORMAT,
        unit="s",
        error_is_null=True,
    )
    is_number = pc.match_substring_regex(energy_text, _NUMBER)
    energy = pc.cast(pc.if_else(is_number, energy_text, pa.scalar(None, pa.string())), pa.float64())

    frame = pd.DataFrame(
        {
            "meter_id": meter.to_pandas(),
            "timestamp": stamp.to_pandas(),
            "energy_kwh": energy.to_pandas(),
            "energy_text": energy_text.to_pandas(),
        }
    )
    frame["line"] = frame.index.to_numpy() + 2  # exact unless a malformed line precedes it

    null_token = frame["energy_text"].isin(("", ENERGY_NULL_TOKEN))
    reason = pd.Series(None, index=frame.index, dtype="object")
    # Order matters: the first reason that applies is the one recorded.
    reason = reason.mask(frame["energy_kwh"].lt(0), SourceRejectReason.ENERGY_NEGATIVE.value)
    reason = reason.mask(frame["energy_kwh"].isna() & ~null_token, SourceRejectReason.ENERGY_NOT_NUMERIC.value)
    reason = reason.mask(null_token, SourceRejectReason.ENERGY_NULL.value)
    reason = reason.mask(frame["timestamp"].isna(), SourceRejectReason.UNPARSEABLE_TIMESTAMP.value)
    reason = reason.mask(frame["meter_id"].eq(""), SourceRejectReason.MISSING_FIELD.value)

    bad = reason.notna()
    good = frame[~bad]
    exact_duplicate = good.duplicated(subset=["meter_id", "timestamp", "energy_kwh"], keep="first")
    good = good[~exact_duplicate]
    conflicting = good.duplicated(subset=["meter_id", "timestamp"], keep="first")
    reason = reason.copy()
    reason.loc[conflicting[conflicting].index] = SourceRejectReason.CONFLICTING_DUPLICATE.value
    good = good[~conflicting]

    rejected = frame.loc[reason.notna()]
    positions = pa.array(rejected.index.to_numpy(), type=pa.int64())
    columns = [table[c].take(positions).to_pylist() for c in READING_COLUMNS]
    raw = pd.Series(
        [",".join(parts) for parts in zip(*columns, strict=True)],
        dtype="object",
    )  # a Python loop over the rejected rows only, which are few
    rejects = [make_rejects(path.name, rejected["line"], reason.loc[rejected.index], raw)]
    if malformed:
        rejects.append(malformed_rejects(path, malformed))

    readings = pd.DataFrame(
        {
            "meter_id": good["meter_id"].to_numpy(),
            "timestamp": good["timestamp"].to_numpy(),
            "energy_kwh": good["energy_kwh"].to_numpy(),
            "reading_date": good["timestamp"].dt.date.to_numpy(),
        }
    )[list(STAGED_READING_COLUMNS)]
    return SourceRead(
        source_file=path.name,
        frame=readings,
        rows_read=len(frame) + len(malformed),
        rejects=pd.concat(rejects, ignore_index=True),
        duplicates_dropped=int(exact_duplicate.sum()),
    )
