"""What reading one source file gives: the clean frame and every row that could not be read.

A row is never dropped silently: it is either in ``frame``, in ``rejects`` (with a reason and the
raw line) or counted in ``duplicates_dropped`` (an exact duplicate of a kept row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from smartmeter_assets.contracts import SOURCE_REJECT_COLUMNS, SourceRejectReason


class SourceFileError(RuntimeError):
    """A source file is missing or unreadable as a whole (wrong header, not CSV)."""


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


@dataclass
class SourceRead:
    """The outcome of reading one source file."""

    source_file: str
    frame: pd.DataFrame
    rows_read: int
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    duplicates_dropped: int = 0

    def rejects_by_reason(self) -> dict[str, int]:
        counts = self.rejects["reason"].value_counts()
        return {str(reason): int(n) for reason, n in counts.items()}

    def accounted(self) -> bool:
        """Every row read is kept, rejected or counted as an exact duplicate."""
        return self.rows_read == len(self.frame) + len(self.rejects) + self.duplicates_dropped


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise SourceFileError(f"source file not found: {path}")
    return path


def require_columns(path: Path, found: list[str], expected: tuple[str, ...]) -> None:
    missing = [name for name in expected if name not in found]
    if missing:
        raise SourceFileError(
            f"{path.name}: missing column(s) {missing}; found {found[:12]}; "
            "is this the Kaggle 'Smart Meters in London' file, unchanged?"
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
