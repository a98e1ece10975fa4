"""Damaged source folders: each answered with one line naming the file and the reason, exit 2.

Every kind of damage a download or a wrong folder brings (binary, another encoding, truncated,
empty, wrong header, a directory where a file should be) is applied to each of the four sources
of a copy of the committed sample, and ``smartmeter check-data`` is run on it. Row-level damage
(a truncated last line, a row too wide) is not an error: it is counted by reason.
"""

from __future__ import annotations

import codecs
import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from smartmeter_assets.cli import main
from smartmeter_assets.contracts import HOUSEHOLDS_FILE, WEATHER_DAILY_FILE, WEATHER_HOURLY_FILE
from smartmeter_assets.sources.households import read_households
from smartmeter_assets.sources.readings import read_block
from smartmeter_assets.sources.source_file import SourceFileError
from smartmeter_assets.sources.weather import read_weather_daily
from smartmeter_assets_tests.conftest import SAMPLE_DIR

SOURCES = {
    "households": Path(HOUSEHOLDS_FILE),
    "weather_hourly": Path(WEATHER_HOURLY_FILE),
    "weather_daily": Path(WEATHER_DAILY_FILE),
    "block": Path("halfhourly_dataset") / "block_1.csv",
}


def _binary(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 8)


def _latin1(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",Caf\u00e9 ", 1)  # a Latin-1 byte on the first data line
    path.write_bytes("".join(lines).encode("latin-1"))


def _utf16(path: Path) -> None:
    path.write_bytes(codecs.BOM_UTF16_LE + path.read_text(encoding="utf-8").encode("utf-16-le"))


def _gzip(path: Path) -> None:
    data = gzip.compress(path.read_bytes())
    path.write_bytes(data[: len(data) // 2])  # a truncated archive, as an interrupted download


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _wrong_header(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("id,when,value\n" + "".join(lines[1:]), encoding="utf-8")


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "part-0.csv").write_text("LCLid\n", encoding="utf-8")


def _missing(path: Path) -> None:
    path.unlink()


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "binary": (_binary, "binary content"),
    "latin1": (_latin1, "not UTF-8 text (byte 0xe9"),
    "utf16": (_utf16, "is UTF-16 text"),
    "truncated_gzip": (_gzip, "is a gzip archive"),
    "empty": (_empty, "empty file"),
    "wrong_header": (_wrong_header, "wrong header: missing column(s)"),
    "directory": (_directory, "is a directory, not a file"),
    "missing": (_missing, "not found"),
}


def sample_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, folder)
    return folder


#: Every source with every damage; a block that is missing is simply not there (blocks are found, not named).
CASES = [
    (source, damage)
    for source in sorted(SOURCES)
    for damage in sorted(DAMAGES)
    if (source, damage) != ("block", "missing")
]


@pytest.mark.parametrize(("source", "damage"), CASES)
def test_check_data_names_the_damaged_file_and_why_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, damage: str
) -> None:
    folder = sample_copy(tmp_path)
    target = folder / SOURCES[source]
    spoil, reason = DAMAGES[damage]
    spoil(target)
    assert main(["check-data", "--data-dir", str(folder), "--quiet"]) == 2
    captured = capsys.readouterr()
    error_lines = captured.err.strip().splitlines()
    assert error_lines == [f"error: {target}: {error_lines[0].split(': ', 2)[2]}"], captured.err  # one line
    assert reason in error_lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_a_folder_that_is_not_there_or_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-data", "--data-dir", str(tmp_path / "nowhere"), "--quiet"]) == 2
    (tmp_path / "file").write_text("x")
    assert main(["check-data", "--data-dir", str(tmp_path / "file"), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {tmp_path / 'nowhere'}: folder not found",
        f"error: {tmp_path / 'file'}: not a folder",
    ]


def test_rows_of_the_wrong_width_are_counted_not_fatal(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    households = folder / HOUSEHOLDS_FILE
    lines = households.read_text(encoding="utf-8").splitlines()
    lines[3] += ",one too many"
    lines[5] = ",".join(lines[5].split(",")[:3])  # two fields short
    households.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_households(folder)
    assert read.rejects_by_reason() == {"too_many_fields": 1, "missing_field": 1}
    assert sorted(read.rejects["line_number"].tolist()) == [4, 6]  # the file's own line numbers
    assert read.accounted() and len(read.frame) == len(lines) - 3

    daily = folder / WEATHER_DAILY_FILE  # cut mid-row, inside a quoted field: the last row is short
    daily.write_bytes(daily.read_bytes() + b'1.5,2013-01-01 14:00:00,"Partly clou')
    read = read_weather_daily(folder)
    assert read.rejects_by_reason() == {"missing_field": 1} and read.accounted()

    block = folder / SOURCES["block"]
    data = block.read_bytes()
    last_row = data.rstrip(b"\n").rindex(b"\n") + 1
    whole = read_block(block)
    block.write_bytes(data[: last_row + 15])  # a download cut in the last row: "MAC004xxx,2013-"
    read = read_block(block)
    assert read.rows_read == whole.rows_read
    assert read.rejects_by_reason().get("missing_field", 0) == whole.rejects_by_reason().get("missing_field", 0) + 1
    assert read.accounted()


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    households = folder / HOUSEHOLDS_FILE
    households.write_bytes(codecs.BOM_UTF8 + households.read_bytes())
    assert len(read_households(folder).frame) > 0


def test_the_readers_raise_the_same_error_the_command_prints(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    _binary(folder / SOURCES["block"])
    with pytest.raises(SourceFileError, match=r"block_1\.csv: binary content"):
        read_block(folder / SOURCES["block"])
