"""The eSCL source against a real HTTP eSCL responder on loopback (escl_responder.py),
which draws the fake source's pages at the resolution asked and misbehaves on demand."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.capture.escl import EsclSource, escl_devices, parse_status
from app.capture.pipeline import A4_MM, MM_PER_INCH, is_blank
from app.capture.source import Cancel, Cancelled, CaptureError, DeviceGone, ScanSettings
from tests.app.capture.escl_responder import EsclResponder, Misbehaviour


@pytest.fixture
def scanner() -> Iterator[EsclResponder]:
    with EsclResponder(feeder_pages=3) as responder:
        yield responder


def _nobody_listening() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/eSCL"


def _a4_width(dpi: int) -> int:
    return round(A4_MM[0] / MM_PER_INCH * dpi)


def test_capabilities_are_read_into_what_the_clerk_can_choose(scanner: EsclResponder) -> None:
    info = EsclSource(scanner.base_url + "/").info
    assert info.spec == f"escl:{scanner.base_url}"
    assert info.name == "网络扫描仪 HP LaserJet MFP M28w"
    caps = info.capabilities
    assert (caps.flatbed, caps.feeder, caps.duplex, caps.colour, caps.max_dpi) == (
        True, True, True, True, 600)


def test_only_scanners_that_answer_are_listed(scanner: EsclResponder) -> None:
    found = escl_devices([_nobody_listening(), scanner.base_url], timeout=2)
    assert [info.spec for info in found] == [f"escl:{scanner.base_url}"]


def test_a_platen_scan_is_one_grey_page_at_the_asked_dpi(scanner: EsclResponder) -> None:
    pages = list(EsclSource(scanner.base_url).acquire(ScanSettings(dpi=150), Cancel()))
    assert len(pages) == 1
    page = pages[0]
    assert page.pixels.ndim == 2
    assert page.dpi == 150                                  # not the JPEG's 72
    assert abs(page.pixels.shape[1] - _a4_width(150)) <= 1
    assert not is_blank(page.pixels)
    asked = scanner.settings[0]
    assert (asked["InputSource"], asked["ColorMode"], asked["XResolution"],
            asked["YResolution"], asked["DocumentFormat"]) == (
        "Platen", "Grayscale8", "150", "150", "image/jpeg")
    assert "Duplex" not in asked
    assert scanner.deleted == []


def test_colour_asks_rgb_and_an_unoffered_dpi_is_raised_to_the_next_offered(
        scanner: EsclResponder) -> None:
    [page] = EsclSource(scanner.base_url).acquire(ScanSettings(dpi=250, colour=True), Cancel())
    assert page.pixels.ndim == 3
    assert page.dpi == 300
    assert abs(page.pixels.shape[1] - _a4_width(300)) <= 1
    assert scanner.settings[0]["ColorMode"] == "RGB24"


def test_the_feeder_gives_every_sheet_until_it_is_empty(scanner: EsclResponder) -> None:
    progress: list[str] = []
    pages = list(EsclSource(scanner.base_url).acquire(
        ScanSettings(dpi=100, feeder=True), Cancel(), progress.append))
    assert len(pages) == 3
    assert [p.origin for p in pages] == [f"{scanner.base_url} 第{n}页" for n in (1, 2, 3)]
    assert {p.dpi for p in pages} == {100}
    assert (scanner.settings[0]["InputSource"], scanner.settings[0]["Duplex"]) == ("Feeder", "false")
    assert sum(path.endswith("/NextDocument") for _, path in scanner.seen) == 4   # 3 + the 404
    assert progress[:3] == ["正在扫描第 1 页…", "正在扫描第 2 页…", "正在扫描第 3 页…"]


def test_duplex_asks_both_sides_and_gets_two_pages_a_sheet(scanner: EsclResponder) -> None:
    pages = list(EsclSource(scanner.base_url).acquire(
        ScanSettings(dpi=100, feeder=True, duplex=True), Cancel()))
    assert len(pages) == 6
    assert scanner.settings[0]["Duplex"] == "true"


def test_duplex_on_a_scanner_without_it_is_refused_before_a_job_starts() -> None:
    with EsclResponder(duplex=False) as scanner:
        with pytest.raises(CaptureError, match="不能双面扫描"):
            list(EsclSource(scanner.base_url).acquire(
                ScanSettings(feeder=True, duplex=True), Cancel()))
        assert scanner.settings == []


def test_a_busy_scanner_says_so() -> None:
    with EsclResponder(faults=Misbehaviour(busy_posts=1)) as scanner, \
            pytest.raises(CaptureError, match="正忙"):
        list(EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100), Cancel()))


def test_a_scanner_warming_up_is_waited_for() -> None:
    with EsclResponder(faults=Misbehaviour(busy_documents=2)) as scanner:
        pages = list(EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100), Cancel()))
    assert len(pages) == 1


def test_a_scanner_that_stays_busy_is_given_up_on_with_a_message() -> None:
    with EsclResponder(faults=Misbehaviour(busy_documents=10**6)) as scanner:
        with pytest.raises(CaptureError, match="HTTP 503"):
            list(EsclSource(scanner.base_url, timeout=1).acquire(ScanSettings(dpi=100), Cancel()))
        assert len(scanner.deleted) == 1


def test_a_connection_dropped_mid_page_keeps_the_pages_before_it() -> None:
    with EsclResponder(feeder_pages=3, faults=Misbehaviour(drop_on_page=2)) as scanner:
        pages = EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100, feeder=True), Cancel())
        first = next(pages)
        with pytest.raises(DeviceGone, match="连不上网络扫描仪"):
            next(pages)
        assert first.dpi == 100 and not is_blank(first.pixels)
        assert len(scanner.deleted) == 1        # the job is cancelled so it stops feeding


def test_a_scanner_switched_off_between_pages_is_gone() -> None:
    scanner = EsclResponder(feeder_pages=3).start()
    pages = EsclSource(scanner.base_url, timeout=5).acquire(
        ScanSettings(dpi=100, feeder=True), Cancel())
    next(pages)
    scanner.stop()
    with pytest.raises(DeviceGone):
        next(pages)


def test_nobody_at_the_address_is_a_device_gone_message() -> None:
    with pytest.raises(DeviceGone, match="请检查扫描仪是否开机"):
        list(EsclSource(_nobody_listening(), timeout=2).acquire(ScanSettings(), Cancel()))


@pytest.mark.parametrize("fault", [Misbehaviour(garbage_capabilities=True),
                                   Misbehaviour(bomb_capabilities=True)])
def test_capabilities_that_are_not_escl_get_a_message_about_the_address(
        fault: Misbehaviour) -> None:
    with EsclResponder(faults=fault) as scanner, pytest.raises(CaptureError, match="eSCL 接口"):
        EsclSource(scanner.base_url).info  # noqa: B018


def test_a_truncated_jpeg_is_refused_not_shown_half_grey() -> None:
    with EsclResponder(feeder_pages=3, faults=Misbehaviour(truncate_page=2)) as scanner:
        pages = EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100, feeder=True), Cancel())
        next(pages)
        with pytest.raises(CaptureError, match="第 2 页的图像不完整或已损坏"):
            next(pages)


def test_a_page_larger_than_allowed_is_refused(scanner: EsclResponder) -> None:
    with pytest.raises(CaptureError, match="过大"):
        list(EsclSource(scanner.base_url, max_bytes=10_000).acquire(
            ScanSettings(dpi=150), Cancel()))
    assert len(scanner.deleted) == 1


def test_cancel_between_pages_deletes_the_job(scanner: EsclResponder) -> None:
    cancel = Cancel()
    pages = EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100, feeder=True), cancel)
    next(pages)
    cancel.set()
    with pytest.raises(Cancelled):
        next(pages)
    assert scanner.deleted == scanner.created and len(scanner.created) == 1
    assert sum(path.endswith("/NextDocument") for _, path in scanner.seen) == 1


def test_a_batch_the_caller_stops_reading_deletes_the_job(scanner: EsclResponder) -> None:
    pages = EsclSource(scanner.base_url).acquire(ScanSettings(dpi=100, feeder=True), Cancel())
    next(pages)
    pages.close()  # type: ignore[attr-defined]
    assert scanner.deleted == scanner.created and len(scanner.created) == 1


def test_an_empty_feeder_is_reported_from_the_scanners_status() -> None:
    with EsclResponder(faults=Misbehaviour(adf_state="ScannerAdfEmpty")) as scanner, \
            pytest.raises(CaptureError, match="进纸器里没有纸"):
        list(EsclSource(scanner.base_url).acquire(ScanSettings(feeder=True), Cancel()))


def test_a_refused_job_is_explained_by_the_scanners_status() -> None:
    fault = Misbehaviour(refuse_job_status=409, adf_state="ScannerAdfJam")
    with EsclResponder(faults=fault) as scanner, pytest.raises(CaptureError, match="卡纸"):
        list(EsclSource(scanner.base_url).acquire(ScanSettings(feeder=True), Cancel()))


def test_a_status_that_explains_nothing_or_is_not_xml_gives_no_reason() -> None:
    assert parse_status(b"<x/>") is None
    assert parse_status(b"\xff\xfe not xml") is None


def test_a_scanner_trickling_a_page_is_cancelled_mid_page() -> None:
    import threading

    with EsclResponder(faults=Misbehaviour(trickle_page=1)) as scanner:
        cancel = Cancel()
        pages = EsclSource(scanner.base_url, timeout=5).acquire(ScanSettings(dpi=100), cancel)
        threading.Timer(1.0, cancel.set).start()
        # Before, 64 KiB had to arrive before the cancel was looked at: a minute here.
        with pytest.raises(Cancelled):
            next(pages)
        assert scanner.deleted == scanner.created and len(scanner.created) == 1
