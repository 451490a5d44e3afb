"""The fake scanner (FakeSource in app/capture/fake_source.py): pages with the skew it
says it drew, at the DPI and colour asked for, an ADF batch with duplex backs, and the
cancel and the unplugging a real scanner can suffer."""

from __future__ import annotations

import numpy as np
import pytest

from app.capture import pipeline
from app.capture.fake_source import FakeSource, PageKind
from app.capture.source import Cancel, Cancelled, DeviceGone, RawPage, ScanSettings, SourceKind


def _scan(source: FakeSource, settings: ScanSettings, cancel: Cancel | None = None
          ) -> list[RawPage]:
    return list(source.acquire(settings, cancel or Cancel()))


def test_each_page_is_tilted_by_the_skew_the_source_reports() -> None:
    source = FakeSource([PageKind.FORM, PageKind.CERTIFICATE], seed=3, skew_range=6.0)
    pages = _scan(source, ScanSettings(dpi=150, feeder=True))
    assert len(pages) == len(source.drawn_skews) == 2
    assert any(abs(s) > 1.0 for s in source.drawn_skews)   # really crooked, not level
    for page, drawn in zip(pages, source.drawn_skews, strict=True):
        assert abs(pipeline.skew_angle(page.pixels) - drawn) <= 0.3, drawn
        level, _ = pipeline.deskew(page.pixels)
        assert abs(pipeline.skew_angle(level)) <= 0.3


def test_pages_come_at_the_dpi_asked_for_grey_unless_colour() -> None:
    source = FakeSource([PageKind.CERTIFICATE])
    [grey] = _scan(source, ScanSettings(dpi=100))
    [colour] = _scan(source, ScanSettings(dpi=150, colour=True))
    assert grey.pixels.ndim == 2 and grey.dpi == 100
    assert pipeline.effective_dpi(grey.pixels.shape[1], grey.pixels.shape[0]) in range(98, 115)
    assert colour.pixels.ndim == 3 and colour.dpi == 150
    b, g, r = (colour.pixels[..., i].astype(int) for i in range(3))
    assert int(((r > 150) & (g < 90) & (b < 90)).sum()) > 100   # the red seal, in BGR order
    assert not grey.from_camera and not colour.from_camera


def test_the_feeder_gives_a_sheet_per_kind_and_duplex_a_blank_back_for_each() -> None:
    source = FakeSource(seed=1)
    pages = _scan(source, ScanSettings(dpi=75, feeder=True, duplex=True))
    assert len(pages) == 6 == len(source.drawn_skews)
    assert [pipeline.is_blank(p.pixels) for p in pages] == [False, True] * 3
    assert [p.origin for p in pages] == [f"演示扫描仪 第{n}页" for n in range(1, 7)]


def test_the_flatbed_gives_one_page_per_scan_going_round_the_kinds() -> None:
    source = FakeSource([PageKind.FORM, PageKind.BLANK])
    blank = [pipeline.is_blank(_scan(source, ScanSettings(dpi=75))[0].pixels) for _ in range(3)]
    assert blank == [False, True, False]


def test_the_skews_are_within_the_range_and_repeat_with_the_seed() -> None:
    def skews(seed: int) -> list[float]:
        source = FakeSource([PageKind.BLANK] * 8, seed=seed, skew_range=1.5)
        _scan(source, ScanSettings(dpi=75, feeder=True))
        return source.drawn_skews

    first = skews(5)
    assert first == skews(5) and first != skews(6)
    assert all(abs(s) <= 1.5 for s in first) and len(set(first)) > 1


def test_a_cancel_between_pages_stops_the_batch() -> None:
    source = FakeSource(seed=2)
    cancel = Cancel()
    got: list[RawPage] = []
    with pytest.raises(Cancelled):
        for page in source.acquire(ScanSettings(dpi=75, feeder=True), cancel):
            got.append(page)
            cancel.set()
    assert len(got) == 1 == len(source.drawn_skews)


def test_a_scanner_unplugged_mid_batch_keeps_the_pages_delivered() -> None:
    source = FakeSource(seed=2, gone_after=2)
    got: list[RawPage] = []
    with pytest.raises(DeviceGone, match="已断开"):
        for page in source.acquire(ScanSettings(dpi=75, feeder=True, duplex=True), Cancel()):
            got.append(page)
    assert len(got) == 2
    assert not np.array_equal(got[0].pixels, got[1].pixels)


def test_it_names_itself_fake_with_feeder_and_duplex() -> None:
    info = FakeSource().info
    assert info.spec == "fake" and info.kind is SourceKind.FAKE
    assert info.capabilities.feeder and info.capabilities.duplex and info.capabilities.flatbed
