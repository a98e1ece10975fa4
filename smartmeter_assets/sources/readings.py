"""Half-hourly reading blocks: ``halfhourly_dataset/block_N.csv`` (or ``halfhourly_dataset_block_N.csv``).

The full dataset is 167 million rows in 112 blocks of 56-70 MB, so a block is read with pyarrow's
multithreaded CSV reader and cleaned with vectorised Arrow/pandas operations, never a Python loop
per row. Quirks handled (read off real copies): energy padded with spaces or the string ``Null``,
timestamps with or without a ``.0000000`` suffix, off-grid stamps (kept as read), exact duplicate
rows (dropped once, counted), rows of the wrong width (rejected with their text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
from smartmeter_assets.sources.source_read import (
    SourceRead,
    make_rejects,
    malformed_rejects,
    read_text_table,
    rejects_by_reason,
)

_BLOCK_NUMBER = re.compile(r"block_(\d+)\.csv$")
#: A plain decimal number (what the source writes); anything else is not a reading.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
METER, STAMP, ENERGY = READING_COLUMNS
#: A block row's position in the file (its line number less 2), while rows are filtered.
_ROW = "row"
#: The energy compared to find a reading repeated exactly.
_VALUE = "value"


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


@dataclass
class BlockRead:
    """One block read: its clean readings as Arrow (``contracts.STAGED_READING_COLUMNS``), its rejects."""

    source_file: str
    table: pa.Table
    rows_read: int
    rejects: pd.DataFrame
    duplicates_dropped: int

    def rejects_by_reason(self) -> dict[str, int]:
        return rejects_by_reason(self.rejects)

    def as_source_read(self) -> SourceRead:
        """The same read as a pandas frame (what the source assets and the CLI show)."""
        return SourceRead(
            self.source_file, self.table.to_pandas(), self.rows_read, self.rejects, self.duplicates_dropped
        )


def read_block(path: Path) -> SourceRead:
    """One block as clean readings (``contracts.STAGED_READING_COLUMNS``) plus counted rejects."""
    return read_block_table(path).as_source_read()


def written_time(text: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """``TIMESTAMP_FORMAT`` text as a timestamp, null where it is not one.

    Arrow's ``strptime`` rolls a day or a second past its end into the next: 2013-02-29 reads as
    2013-03-01, 00:00:60 as 00:01:00. A stamp whose day or second is not the one written is no
    time at all, not another time, so it is null (rejected as unparseable), never moved.
    """
    parsed = pc.strptime(text, format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
    as_written = [
        pc.equal(pc.utf8_lpad(pc.cast(field(parsed), pa.string()), 2, "0"), pc.utf8_slice_codeunits(text, at, at + 2))
        for field, at in ((pc.day, 8), (pc.second, 17))
    ]
    return pc.if_else(pc.fill_null(pc.and_(*as_written), False), parsed, pa.scalar(None, parsed.type))


def _first_of_each(rows: pa.Table, keys: list[str]) -> pa.ChunkedArray | pa.Array:
    """Whether each row is the first (lowest ``row``) of its ``keys``: ``duplicated(keep="first")`` negated."""
    firsts = rows.group_by(keys, use_threads=False).aggregate([(_ROW, "min")])[f"{_ROW}_min"]
    return pc.is_in(rows[_ROW], value_set=firsts.combine_chunks())


def read_block_table(path: Path) -> BlockRead:
    """One block as clean readings plus counted rejects, in Arrow from the CSV to the staged table.

    Arrow all the way (no pandas frame of the whole block): staging 40 blocks of a full-scale
    14-day sample took 1.6 CPU-s instead of 2.4 with the same rules through pandas (the rows kept
    and rejected are the same, on real meters too). The first reason that applies is the
    one recorded; of readings repeated exactly the first is kept (the rest counted as duplicates),
    of the same meter and time with another value the first is kept and the others rejected.
    """
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

    stamp = written_time(pc.utf8_slice_codeunits(stamp_text, 0, TIMESTAMP_LENGTH))
    is_number = pc.match_substring_regex(energy_text, _NUMBER)
    energy = pc.cast(pc.if_else(is_number, energy_text, pa.scalar(None, pa.string())), pa.float64())
    null_token = pc.is_in(energy_text, value_set=pa.array(["", ENERGY_NULL_TOKEN]))
    checks = {  # in order: the first that applies is the row's reason
        SourceRejectReason.MISSING_FIELD: pc.equal(meter, ""),
        SourceRejectReason.UNPARSEABLE_TIMESTAMP: pc.is_null(stamp),
        SourceRejectReason.ENERGY_NULL: null_token,
        SourceRejectReason.ENERGY_NOT_NUMERIC: pc.and_(pc.is_null(energy), pc.invert(null_token)),
        SourceRejectReason.ENERGY_NEGATIVE: pc.less(energy, 0.0),
    }
    reason = pc.case_when(
        pc.make_struct(
            *(pc.fill_null(failed, False) for failed in checks.values()), field_names=[r.value for r in checks]
        ),
        *(pa.scalar(r.value) for r in checks),
    )
    rows = pa.table(
        {"meter_id": meter, "timestamp": stamp, "energy_kwh": energy, _ROW: pa.array(np.arange(table.num_rows))}
    )
    good = rows.filter(pc.is_null(reason))
    # the same value: -0.0 + 0.0 is 0.0, so "-0" and "0" are one reading repeated, not two values
    good = good.append_column(_VALUE, pc.add(good["energy_kwh"], 0.0))
    exact_first = _first_of_each(good, ["meter_id", "timestamp", _VALUE])
    duplicates_dropped = good.num_rows - pc.sum(exact_first).as_py() if good.num_rows else 0
    good = good.filter(exact_first)
    kept = _first_of_each(good, ["meter_id", "timestamp"])
    conflicting = good.filter(pc.invert(kept))[_ROW]
    good = good.filter(kept)

    # every rejected row in file order: those with a reason, then the conflicting duplicates
    unsorted = pa.concat_arrays(
        [pc.indices_nonzero(pc.is_valid(reason)), conflicting.combine_chunks().cast(pa.uint64())]
    )
    positions = pc.take(unsorted, pc.sort_indices(unsorted))
    reasons = pc.take(pc.fill_null(reason, SourceRejectReason.CONFLICTING_DUPLICATE.value), positions)
    columns = [table[c].take(positions).to_pylist() for c in READING_COLUMNS]
    raw = pd.Series(
        [",".join(parts) for parts in zip(*columns, strict=True)],
        dtype="object",
    )  # a Python loop over the rejected rows only, which are few
    # a line number is exact unless a malformed line precedes its row
    lines = pd.Series(positions.to_numpy(zero_copy_only=False).astype("int64") + 2)
    rejects = [make_rejects(path.name, lines, pd.Series(reasons.to_pylist(), dtype="object"), raw)]
    if malformed:
        rejects.append(malformed_rejects(path, malformed))

    readings = good.select(["meter_id", "timestamp", "energy_kwh"]).append_column(
        "reading_date", pc.cast(good["timestamp"], pa.date32())
    )
    return BlockRead(
        source_file=path.name,
        table=readings.select(list(STAGED_READING_COLUMNS)),
        rows_read=table.num_rows + len(malformed),
        rejects=pd.concat(rejects, ignore_index=True),
        duplicates_dropped=duplicates_dropped,
    )
