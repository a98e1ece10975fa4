"""What reading one source file gives: the clean frame and every row that could not be read.

A row is never dropped silently: it is either in ``frame``, in ``rejects`` (with a reason and the
raw line) or counted in ``duplicates_dropped`` (an exact duplicate of a kept row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from smartmeter_assets.contracts import SOURCE_REJECT_COLUMNS, SourceRejectReason
from smartmeter_assets.sources.source_file import (
    SNIFF_BYTES,
    SourceFileError,
    check_source_file,
    unreadable,
)

__all__ = ["SourceFileError", "SourceRead", "read_csv_text"]  # SourceFileError: where callers look for it


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="object") for name in SOURCE_REJECT_COLUMNS}).astype(
        {"line_number": "int64"}
    )


def make_rejects(
    source_file: str, line_numbers: pd.Series, reasons: pd.Series | str, raw_lines: pd.Series
) -> pd.DataFrame:
    """Reject rows in the contract's shape (one row per rejected source line)."""
    if len(line_numbers) == 0:
        return empty_rejects()
    return pd.DataFrame(
        {
            "source_file": source_file,
            "line_number": line_numbers.to_numpy(dtype="int64"),
            "reason": reasons if isinstance(reasons, str) else reasons.to_numpy(),
            "raw_line": raw_lines.to_numpy(),
        }
    )


def rejects_by_reason(rejects: pd.DataFrame) -> dict[str, int]:
    """How many rejected rows each reason has."""
    counts = rejects["reason"].value_counts()
    return {str(reason): int(n) for reason, n in counts.items()}


@dataclass
class SourceRead:
    """The outcome of reading one source file."""

    source_file: str
    frame: pd.DataFrame
    rows_read: int
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    duplicates_dropped: int = 0

    def rejects_by_reason(self) -> dict[str, int]:
        return rejects_by_reason(self.rejects)

    def accounted(self) -> bool:
        """Every row read is kept, rejected or counted as an exact duplicate."""
        return self.rows_read == len(self.frame) + len(self.rejects) + self.duplicates_dropped


def require_columns(path: Path, found: list[str], expected: tuple[str, ...]) -> None:
    missing = [name for name in expected if name not in found]
    if missing:
        raise unreadable(
            path,
            f"missing column(s) {missing}; found {found[:12]}; "
            "is this the Kaggle 'Smart Meters in London' file, unchanged?",
        )


@dataclass
class CsvText:
    """A small source file as text: the rows of the header's width, and the rows that are not."""

    frame: pd.DataFrame  # every field as stripped text (blanks are ""), plus ``__line``
    rejects: pd.DataFrame  # rows with a field too few or too many

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.rejects)


def read_text_table(
    path: Path,
    columns: tuple[str, ...],
    *,
    what: str = "CSV file",
    use_threads: bool = False,
    block_size: int | None = None,
    include_columns: tuple[str, ...] | None = None,
) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    """A source file as an all-text Arrow table, plus the rows of the wrong width pyarrow set aside.

    The one place a source CSV is parsed. The file is checked first (:func:`check_source_file`:
    readable, UTF-8, the right header), so a bad file is one clear :class:`SourceFileError` naming
    ``what`` it should have been. Every field stays text (blanks are empty strings): parsing is the
    reader's, so nothing is guessed. A row of the wrong width (a truncated last line included) is
    handed over, never fails the file or vanishes. On one thread (the default) pyarrow gives each
    such row its exact line number; the big reading blocks trade that for ``use_threads``.
    """
    header = check_source_file(path, columns)
    malformed: list[pacsv.InvalidRow] = []

    def keep_aside(row: pacsv.InvalidRow) -> str:
        malformed.append(row)
        return "skip"

    read_options = pacsv.ReadOptions(use_threads=use_threads)
    if block_size is not None:
        read_options.block_size = block_size
    try:
        table = pacsv.read_csv(
            path,
            read_options=read_options,
            parse_options=pacsv.ParseOptions(invalid_row_handler=keep_aside),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                include_columns=None if include_columns is None else list(include_columns),
            ),
        )
    except pa.ArrowInvalid as error:
        reason = str(error).strip().splitlines()[0]
        if "UTF8" in reason or "UTF-8" in reason:
            raise unreadable(path, f"not UTF-8 text past its first {SNIFF_BYTES >> 20} MiB") from error
        raise unreadable(path, f"not a readable {what} ({reason})") from error
    except OSError as error:
        raise unreadable(path, f"cannot be read ({error})") from error
    return table, malformed


def read_csv_text(path: Path, columns: tuple[str, ...]) -> CsvText:
    """A small source file (households, weather: at most ~21,000 rows) as stripped text with the
    line number of every kept row; rows of the wrong width are rejects with theirs."""
    table, malformed = read_text_table(path, columns)
    frame = table.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    bad_lines = [row.number for row in malformed if row.number is not None]
    # 1-based line numbers of the kept rows: every line after the header but the set-aside ones
    frame["__line"] = np.setdiff1d(np.arange(2, 2 + len(frame) + len(bad_lines)), bad_lines)[: len(frame)]
    return CsvText(frame, malformed_rejects(path, malformed))


def malformed_rejects(path: Path, malformed: list[pacsv.InvalidRow]) -> pd.DataFrame:
    """Rows with a field too few (``missing_field``) or too many (``too_many_fields``), with their text."""
    reasons = [
        SourceRejectReason.MISSING_FIELD.value
        if row.actual_columns < row.expected_columns
        else SourceRejectReason.TOO_MANY_FIELDS.value
        for row in malformed
    ]
    return make_rejects(
        path.name,
        pd.Series([row.number if row.number is not None else -1 for row in malformed]),
        pd.Series(reasons, dtype="object"),
        pd.Series([row.text for row in malformed], dtype="object"),
    )


def raw_lines(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """The rows as the CSV line they came from (fields joined by commas), for the dead letter."""
    text = frame[list(columns)].astype("string").fillna("")
    return text.agg(",".join, axis=1) if len(text) else pd.Series([], dtype="object")


def duplicate_key_rejects(
    path: Path, frame: pd.DataFrame, key: list[str], columns: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each key; the others are rejected as ``duplicate_key``."""
    dup = frame.duplicated(subset=key, keep="first")
    rejected = frame[dup]
    rejects = make_rejects(
        path.name, rejected["__line"], SourceRejectReason.DUPLICATE_KEY.value, raw_lines(rejected, columns)
    )
    return frame[~dup], rejects
