"""Is a source file readable at all? One reason per unreadable file, found before any parser runs.

Why before the parsers: pandas and pyarrow fail on a binary file, another encoding, an empty file
or a foreign header with errors that name neither the file nor the cause (``UnicodeDecodeError``
at byte 3, "Column 'LCLid' in include_columns does not exist", a ``TypeError`` when a header is
shorter than its rows). Someone who points us at the wrong folder or a damaged download gets one
line instead: the file and what is wrong with it (:class:`SourceFileError`, which the ``smartmeter``
command prints and exits 2 on, and a Dagster run shows as its failure).

Row-level damage (a truncated last line, a row with a field too many or too few) is not decided
here: the readers keep going and count such rows by reason.
"""

from __future__ import annotations

import codecs
from pathlib import Path

#: How much of a file is inspected: enough for the header and many rows, cheap for 70 MB blocks.
SNIFF_BYTES = 1 << 20
#: What the Kaggle files are written in (a UTF-8 byte-order mark is tolerated, as pyarrow skips it).
SOURCE_ENCODING = "utf-8-sig"

_ARCHIVES = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
_WIDE_TEXT = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class SourceFileError(RuntimeError):
    """A source file is missing or unreadable as a whole; the message is one line naming it."""


def unreadable(path: Path, reason: str) -> SourceFileError:
    """The error for ``path``, in the one shape every reader uses: ``<path>: <reason>``."""
    return SourceFileError(f"{path}: {reason}")


def _head(path: Path) -> bytes:
    if not path.exists():
        raise unreadable(path, "source file not found")
    if path.is_dir():
        raise unreadable(path, "is a directory, not a file")
    if not path.is_file():
        raise unreadable(path, "is not a regular file")
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as error:
        raise unreadable(path, f"cannot be read ({error.strerror or error})") from error


def _text_of(path: Path, head: bytes, whole_file: bool) -> str:
    """The head as text, or the reason it is not the UTF-8 text the Kaggle files are."""
    for magic, kind in _ARCHIVES:
        if head.startswith(magic):
            raise unreadable(path, f"is {kind}, not CSV text: unpack it first")
    for bom, encoding in _WIDE_TEXT:
        if head.startswith(bom):
            raise unreadable(path, f"is {encoding} text; the Kaggle files are UTF-8: save it as UTF-8")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise unreadable(path, f"binary content (NUL byte at offset {nul}), not CSV text")
    decoder = codecs.getincrementaldecoder(SOURCE_ENCODING)()
    try:
        return decoder.decode(head, final=whole_file)  # a character cut by the sniff limit is fine
    except UnicodeDecodeError as error:
        byte = head[error.start]
        raise unreadable(
            path, f"not UTF-8 text (byte 0x{byte:02x} at offset {error.start}); the Kaggle files are UTF-8"
        ) from error


def header_of(line: str) -> list[str]:
    """Column names of a CSV header line, as written (quotes and spaces around names removed)."""
    return [name.strip().strip('"').strip() for name in line.rstrip("\r\n").split(",")]


def check_source_file(path: Path, columns: tuple[str, ...]) -> list[str]:
    """The header of ``path``; :class:`SourceFileError` unless it is a UTF-8 CSV file with ``columns``."""
    head = _head(path)
    if not head:
        raise unreadable(path, "empty file (not even a header line)")
    whole_file = len(head) < SNIFF_BYTES
    text = _text_of(path, head, whole_file)
    first_line, newline, _ = text.partition("\n")
    if not newline and not whole_file:
        raise unreadable(path, f"no line break in its first {SNIFF_BYTES >> 20} MiB: not a CSV file")
    found = header_of(first_line)
    missing = [name for name in columns if name not in found]
    if missing:
        raise unreadable(
            path,
            f"wrong header: missing column(s) {missing}; found {found[:12]}; "
            "is this the Kaggle 'Smart Meters in London' file, unchanged?",
        )
    return found
