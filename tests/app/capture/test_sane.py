"""The SANE source end to end against libsane's `test` backend (a virtual flatbed with a
10-sheet ADF that can fail on demand), with real scanimage processes; and the parsing of
other devices' option lists, which name the same things their own way."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.capture.pipeline import is_blank
from app.capture.sane import SaneSource, parse_device_list, parse_options, sane_devices
from app.capture.source import Cancel, Cancelled, CaptureError, DeviceGone, ScanSettings

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sane"
GRID = ("--test-picture", "Grid")
# ≈1.6 s a page at 100 dpi grey: time to act on the first page while the rest feed.
SLOW = (*GRID, "--read-limit=yes", "--read-limit-size", "16384",
        "--read-delay=yes", "--read-delay-duration", "200000")


@pytest.fixture(autouse=True)
def test_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SANE_CONFIG_DIR", str(FIXTURE))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[str, Path]:
    """A scanimage that notes its pid before becoming the real one."""
    pids = tmp_path / "pids"
    script = tmp_path / "scanimage-recorded"
    script.write_text(f'#!/bin/sh\necho $$ >> "{pids}"\nexec scanimage "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _scan(source: SaneSource, settings: ScanSettings) -> list[tuple[int, int, int, int | None]]:
    return [(p.pixels.shape[1], p.pixels.shape[0], p.pixels.ndim, p.dpi)
            for p in source.acquire(settings, Cancel())]


def test_the_test_backends_two_devices_are_listed_with_flatbed_and_feeder() -> None:
    found = sane_devices()
    assert [info.spec for info in found] == ["sane:test:0", "sane:test:1"]
    caps = found[0].capabilities
    assert (caps.flatbed, caps.feeder, caps.duplex, caps.colour, caps.max_dpi) == (
        True, True, False, True, 1200)
    assert found[0].name == "扫描仪 Noname frontend-tester"


def test_a_flatbed_scan_is_one_page_at_the_asked_resolution_in_grey() -> None:
    pages = list(SaneSource("test:0", extra_options=GRID).acquire(
        ScanSettings(dpi=200, colour=False), Cancel()))
    assert len(pages) == 1
    page = pages[0]
    assert page.dpi == 200
    assert page.pixels.ndim == 2
    # The test backend's default area is 80 × 100 mm.
    assert abs(page.pixels.shape[1] - 80 / 25.4 * 200) <= 1
    assert abs(page.pixels.shape[0] - 100 / 25.4 * 200) <= 1
    assert not is_blank(page.pixels)
    assert page.origin == "test:0 第1页"
    assert not page.from_camera


def test_colour_gives_three_channels_and_an_odd_dpi_is_kept_as_the_device_reports_it() -> None:
    [(width, _, channels, dpi)] = _scan(SaneSource("test:0", extra_options=GRID),
                                        ScanSettings(dpi=237, colour=True))
    assert (channels, dpi) == (3, 237)
    assert abs(width - 80 / 25.4 * 237) <= 1


def test_the_feeder_gives_its_ten_sheets_each_with_its_dpi() -> None:
    source = SaneSource("test:0", extra_options=GRID)
    progress: list[str] = []
    pages = list(source.acquire(ScanSettings(dpi=150, feeder=True), Cancel(), progress.append))
    assert len(pages) == 10
    assert {p.dpi for p in pages} == {150}
    assert [p.origin for p in pages] == [f"test:0 第{n}页" for n in range(1, 11)]
    assert "正在扫描第 10 页…" in progress


def test_duplex_on_a_device_without_it_says_so_before_scanning() -> None:
    with pytest.raises(CaptureError, match="不能双面扫描"):
        next(SaneSource("test:0").acquire(ScanSettings(feeder=True, duplex=True), Cancel()))


@pytest.mark.parametrize(("status", "error", "words"), [
    ("SANE_STATUS_JAMMED", CaptureError, "卡纸，请取出纸张后重扫"),
    ("SANE_STATUS_NO_DOCS", CaptureError, "进纸器里没有纸"),
    ("SANE_STATUS_COVER_OPEN", CaptureError, "盖板未合上"),
    ("SANE_STATUS_DEVICE_BUSY", CaptureError, "正忙"),
    ("SANE_STATUS_IO_ERROR", DeviceGone, "连接中断"),
])
@pytest.mark.parametrize("feeder", [False, True])
def test_a_device_failure_becomes_a_clerks_message(
        status: str, error: type[CaptureError], words: str, feeder: bool,
        test_backend: Path) -> None:
    source = SaneSource("test:0", extra_options=(*GRID, "--read-return-value", status))
    with pytest.raises(error, match=words) as raised:
        list(source.acquire(ScanSettings(dpi=100, feeder=feeder), Cancel()))
    if error is CaptureError:
        assert not isinstance(raised.value, DeviceGone)
    assert list(test_backend.iterdir()) == []      # the batch directory is gone


def test_a_scanner_unplugged_mid_batch_keeps_the_pages_already_delivered(
        recorded: tuple[str, Path]) -> None:
    program, pids = recorded
    pages = SaneSource("test:0", scanimage=program, extra_options=SLOW).acquire(
        ScanSettings(dpi=100, feeder=True), Cancel())
    first = next(pages)
    scan_pid = int(pids.read_text().split()[-1])
    os.kill(scan_pid, signal.SIGKILL)
    with pytest.raises(DeviceGone, match="已扫描的 1 页已保留"):
        next(pages)
    assert first.dpi == 100 and not is_blank(first.pixels)


def test_cancel_mid_batch_ends_scanimage_and_removes_its_files(
        recorded: tuple[str, Path], test_backend: Path) -> None:
    program, pids = recorded
    cancel = Cancel()
    pages = SaneSource("test:0", scanimage=program, extra_options=SLOW).acquire(
        ScanSettings(dpi=100, feeder=True), cancel)
    next(pages)
    scan_pid = int(pids.read_text().split()[-1])
    assert _alive(scan_pid)
    cancel.set()
    with pytest.raises(Cancelled):
        next(pages)
    assert not _alive(scan_pid)
    assert list(test_backend.iterdir()) == []


def test_a_batch_the_caller_stops_reading_is_ended_too(
        recorded: tuple[str, Path], test_backend: Path) -> None:
    program, pids = recorded
    pages: Iterator[object] = SaneSource("test:0", scanimage=program, extra_options=SLOW).acquire(
        ScanSettings(dpi=100, feeder=True), Cancel())
    next(pages)
    scan_pid = int(pids.read_text().split()[-1])
    pages.close()  # type: ignore[attr-defined]
    assert not _alive(scan_pid)
    assert list(test_backend.iterdir()) == []


def test_a_device_that_does_not_exist_is_named_in_the_message() -> None:
    source = SaneSource("test:7")
    with pytest.raises(CaptureError, match="找不到扫描仪 test:7"):
        source.info  # noqa: B018
    with pytest.raises(CaptureError, match="找不到扫描仪 test:7"):
        list(source.acquire(ScanSettings(), Cancel()))


def test_without_scanimage_the_message_says_to_install_sane_utils(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-scanimage")
    with pytest.raises(CaptureError, match="sane-utils"):
        list(SaneSource("test:0", scanimage=missing).acquire(ScanSettings(), Cancel()))
    assert sane_devices(scanimage=missing) == []


def test_a_truncated_page_file_is_refused_with_a_message(tmp_path: Path) -> None:
    """A full disk or a dying backend can leave a cut PNG behind scanimage's back."""
    script = tmp_path / "scanimage-truncating"
    script.write_text('#!/bin/sh\n'
                      'case "$*" in *--batch=*) ;; *) exec scanimage "$@";; esac\n'
                      'scanimage "$@" > "$0.list" || exit $?\n'
                      'while read -r f; do head -c 300 "$f" > "$f.cut"; mv "$f.cut" "$f";'
                      ' echo "$f"; done < "$0.list"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(CaptureError, match="第 1 页的图像不完整或已损坏"):
        list(SaneSource("test:0", scanimage=str(script), extra_options=GRID).acquire(
            ScanSettings(dpi=100), Cancel()))


# ------------------------------------------------------------- other devices' words

FUJITSU = """
All options specific to device `fujitsu:fi-7160:1234':
  Standard:
    --source ADF Front|ADF Back|ADF Duplex [ADF Front]
        Selects the scan source (such as a document-feeder).
    --mode Lineart|Halftone|Gray|Color [Lineart]
        Selects the scan mode (e.g., lineart, monochrome, or color).
    --resolution 50|60|75|100|150|200|240|300|400|600dpi [600]
        Sets the horizontal resolution of the scanned image.
"""

LOCALISED = """
  扫描模式:
    --mode 彩色|灰度|黑白 [彩色]
        选择扫描模式。
    --source 平板|自动进纸器(ADF)|自动进纸器(ADF 双面) [平板]
    --resolution 100..600dpi (in steps of 100) [300]
"""

EPSON = """
    --mode Binary|Gray|Color [Binary]
    --source Flatbed|Automatic Document Feeder [Flatbed]
    --adf-mode Simplex|Duplex [inactive]
    --resolution 75|300|600|1200dpi [75]
"""

FLATBED_ONLY = """
    --mode Color|Gray|Lineart [Color]
    --resolution 4800|2400|1200|600|300|150|100|75dpi [75]
"""


def test_a_feeder_only_scanner_with_a_duplex_source_is_read_in_its_own_words() -> None:
    options = parse_options(FUJITSU)
    caps = options.capabilities()
    assert (caps.flatbed, caps.feeder, caps.duplex, caps.colour, caps.max_dpi) == (
        False, True, True, True, 600)
    assert options.arguments(ScanSettings(dpi=220, feeder=True, duplex=True)) == [
        "--mode", "Gray", "--resolution", "240", "--source", "ADF Duplex"]
    assert options.arguments(ScanSettings(dpi=280, colour=True, feeder=True)) == [
        "--mode", "Color", "--resolution", "300", "--source", "ADF Front"]
    with pytest.raises(CaptureError, match="没有玻璃板"):
        options.arguments(ScanSettings(feeder=False))


def test_chinese_option_values_and_a_stepped_range_are_understood() -> None:
    options = parse_options(LOCALISED)
    assert options.arguments(ScanSettings(dpi=260, colour=False, feeder=True, duplex=True)) == [
        "--mode", "灰度", "--resolution", "300", "--source", "自动进纸器(ADF 双面)"]
    assert options.arguments(ScanSettings(dpi=90, colour=True)) == [
        "--mode", "彩色", "--resolution", "100", "--source", "平板"]
    assert options.capabilities().duplex


def test_an_inactive_adf_mode_still_offers_duplex_through_that_switch() -> None:
    options = parse_options(EPSON)
    assert options.capabilities().duplex
    assert options.arguments(ScanSettings(dpi=200, feeder=True, duplex=True)) == [
        "--mode", "Gray", "--resolution", "300", "--source", "Automatic Document Feeder",
        "--adf-mode", "Duplex"]


def test_a_flatbed_without_a_source_option_cannot_feed_and_never_scans_below_the_asked_dpi(
        ) -> None:
    options = parse_options(FLATBED_ONLY)
    caps = options.capabilities()
    assert (caps.flatbed, caps.feeder, caps.max_dpi) == (True, False, 4800)
    assert options.arguments(ScanSettings(dpi=200)) == ["--mode", "Gray", "--resolution", "300"]
    with pytest.raises(CaptureError, match="没有自动进纸器"):
        options.arguments(ScanSettings(feeder=True))


def test_a_grey_only_device_refuses_colour_rather_than_scanning_grey() -> None:
    options = parse_options("    --mode Lineart|Gray [Gray]\n")
    assert not options.capabilities().colour
    with pytest.raises(CaptureError, match="不能彩色扫描"):
        options.arguments(ScanSettings(colour=True))


def test_the_device_list_keeps_names_with_spaces_and_skips_blank_lines() -> None:
    assert parse_device_list("test:0\tNoname frontend-tester\n\n"
                             "airscan:e0:HP  LaserJet\tHP  LaserJet MFP\n") == [
        ("test:0", "Noname frontend-tester"), ("airscan:e0:HP  LaserJet", "HP LaserJet MFP")]
