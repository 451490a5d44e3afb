"""WIA needs Windows and a scanner, neither of which is here: what is tested is the
behaviour on other systems and the pure parts (document-handling flags, resolution
choice, what a WIA error code tells the clerk)."""

from __future__ import annotations

import sys

import pytest

from app.capture import wia
from app.capture.source import Cancel, CaptureError, DeviceGone, ScanSettings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the non-Windows behaviour")


def test_off_windows_no_device_is_listed_and_opening_one_says_wia_is_for_windows() -> None:
    assert wia.wia_devices() == []
    source = wia.WiaSource("{6BDD1FC6-810F-11D0-BEC7-08002BE2092F}\\0000")
    with pytest.raises(CaptureError, match="WIA 仅适用于 Windows"):
        list(source.acquire(ScanSettings(), Cancel()))
    with pytest.raises(CaptureError, match="WIA 仅适用于 Windows"):
        source.info  # noqa: B018


def test_document_handling_flags_follow_the_settings_and_refuse_what_is_missing() -> None:
    feeder_duplex = wia.capabilities_from(wia.FEED | wia.FLAT | wia.DUP, 600)
    assert wia.document_handling(ScanSettings(), feeder_duplex) == wia.FLATBED
    assert wia.document_handling(ScanSettings(feeder=True), feeder_duplex) == wia.FEEDER
    assert wia.document_handling(ScanSettings(feeder=True, duplex=True), feeder_duplex) == (
        wia.FEEDER | wia.DUPLEX)
    flatbed = wia.capabilities_from(0, 1200)          # no 3086 property: a plain flatbed
    assert (flatbed.flatbed, flatbed.feeder, flatbed.duplex) == (True, False, False)
    with pytest.raises(CaptureError, match="没有自动进纸器"):
        wia.document_handling(ScanSettings(feeder=True), flatbed)
    simplex_feeder = wia.capabilities_from(wia.FEED, 600)
    with pytest.raises(CaptureError, match="不能双面扫描"):
        wia.document_handling(ScanSettings(feeder=True, duplex=True), simplex_feeder)
    with pytest.raises(CaptureError, match="没有玻璃板"):
        wia.document_handling(ScanSettings(), simplex_feeder)


@pytest.mark.parametrize(("dpi", "subtype", "bounds", "values", "chosen"), [
    (200, wia.SUBTYPE_LIST, (0, 0, 0), (75, 150, 300, 600), 300),
    (300, wia.SUBTYPE_LIST, (0, 0, 0), (600, 300, 150), 300),
    (1200, wia.SUBTYPE_LIST, (0, 0, 0), (75, 150, 300, 600), 600),
    (220, wia.SUBTYPE_RANGE, (50, 600, 50), (), 250),
    (20, wia.SUBTYPE_RANGE, (50, 600, 1), (), 50),
    (200, 0, (0, 0, 0), (), 200),
])
def test_the_resolution_is_the_lowest_offered_at_or_above_the_asked(
        dpi: int, subtype: int, bounds: tuple[int, int, int], values: tuple[int, ...],
        chosen: int) -> None:
    assert wia.nearest_resolution(dpi, subtype, *bounds, values=values) == chosen


def test_wia_error_codes_become_clerks_messages_and_keep_delivered_pages() -> None:
    jam = wia.error_for(0x80210002, 3)
    assert not isinstance(jam, DeviceGone)
    assert str(jam) == "扫描仪卡纸，请取出纸张后重扫。已扫描的 3 页已保留。"
    assert isinstance(wia.error_for(0x80210005, 0), DeviceGone)
    assert "0x80212345" in str(wia.error_for(0x80212345, 0))


def test_the_wia_code_is_found_inside_a_dispatch_exception() -> None:
    excepinfo = (0, "WIA", "Paper jam", None, 0, -2145320958)   # 0x80210002 as signed
    assert wia.hresult_of((-2147352567, "Exception occurred.", excepinfo, None)) == 0x80210002
    assert wia.hresult_of((-2145320955, "offline", None, None)) == 0x80210005
    assert wia.hresult_of(()) == 0


def test_a_jam_or_open_cover_in_the_status_stops_a_feeder_scan_before_it_starts() -> None:
    assert wia.status_problem(wia.FEED_READY) is None
    problem = wia.status_problem(wia.FEED_READY | wia.PAPER_JAM)
    assert problem is not None and "卡纸" in str(problem)
    cover = wia.status_problem(wia.FLAT_COVER_UP)
    assert cover is not None and "盖板" in str(cover)
