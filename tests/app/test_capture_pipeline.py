"""The page pipeline (app/capture/pipeline.py) on the fake source's pages, which know the
angle they were drawn at and where the page lies in a camera frame."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.capture import pipeline
from app.capture.fake_source import PageKind, camera_frame, draw_page, scanned


@pytest.mark.parametrize("kind", [PageKind.FORM, PageKind.CERTIFICATE])
@pytest.mark.parametrize("skew", [-8.62, -3.17, -0.41, 0.88, 2.33, 6.43])
def test_deskew_levels_a_crooked_scan_to_within_a_third_of_a_degree(
        kind: PageKind, skew: float) -> None:
    page = scanned(kind, skew, dpi=200, seed=abs(round(skew * 100)))
    level, turned = pipeline.deskew(page.image)
    assert abs(skew + turned) <= 0.3, (skew, turned)
    assert abs(pipeline.skew_angle(level)) <= 0.3
    assert level.shape[0] >= page.image.shape[0] - 2   # grown to keep the corners, not cut


def test_a_level_scan_and_a_blank_page_are_left_as_they_are() -> None:
    level = scanned(PageKind.FORM, 0.0, dpi=200).image
    assert pipeline.deskew(level)[1] == 0.0
    blank = scanned(PageKind.BLANK, 3.0, dpi=200).image
    assert pipeline.skew_angle(blank) == 0.0   # nothing to measure a tilt on


def test_the_page_in_a_camera_frame_is_found_and_squared_to_a4() -> None:
    frame, corners = camera_frame(PageKind.FORM, seed=4)
    found = pipeline.page_outline(frame)
    assert found is not None
    assert float(np.abs(found - corners).max()) <= 0.01 * max(frame.shape[:2])
    flat = pipeline.flatten(frame, found)
    height, width = flat.shape[:2]
    assert height / width == pytest.approx(297 / 210, rel=0.04)
    # The effective resolution of the page as the camera saw it, as stored with it.
    assert pipeline.effective_dpi(width, height) == round(width / (210 / 25.4))


def test_a_frame_without_a_page_has_no_outline() -> None:
    desk = np.full((1200, 1600, 3), (55, 60, 70), np.uint8)
    assert pipeline.page_outline(desk) is None


def test_blank_pages_are_told_from_pages_with_anything_on_them() -> None:
    assert pipeline.is_blank(scanned(PageKind.BLANK, 1.0, dpi=200).image)
    assert not pipeline.is_blank(scanned(PageKind.FORM, 1.0, dpi=200).image)
    assert not pipeline.is_blank(scanned(PageKind.CERTIFICATE, 1.0, dpi=200).image)


def test_quarter_turns_are_the_clerks_rotate_key() -> None:
    page = draw_page(PageKind.FORM, dpi=100)
    assert pipeline.quarter_turns(page, 1).shape[:2] == page.shape[1::-1][:2]
    assert np.array_equal(pipeline.quarter_turns(page, 4), page)
    assert np.array_equal(pipeline.quarter_turns(pipeline.quarter_turns(page, 1), 3), page)


def test_a_page_is_encoded_grey_or_colour_with_its_dpi_written_in() -> None:
    form = pipeline.encode(draw_page(PageKind.FORM, dpi=200), 200, colour=False)
    with Image.open(io.BytesIO(form.jpeg)) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "L", (form.width, form.height))
        assert tuple(round(d) for d in image.info["dpi"]) == (200, 200)
    licence = pipeline.encode(draw_page(PageKind.CERTIFICATE, dpi=300), 300, colour=True)
    with Image.open(io.BytesIO(licence.jpeg)) as image:
        assert (image.mode, licence.colour) == ("RGB", True)
        assert tuple(round(d) for d in image.info["dpi"]) == (300, 300)


def test_a_page_with_more_resolution_than_its_profile_is_brought_down_never_up() -> None:
    page = draw_page(PageKind.FORM, dpi=300)
    assert pipeline.fit_dpi(page, 300, 200).shape[1] == round(page.shape[1] * 200 / 300)
    assert pipeline.fit_dpi(page, 150, 200) is page
    assert pipeline.effective_dpi(1654, 2339) == 200


def test_a_4_3_frame_gives_an_a4_sheet_what_its_width_allows() -> None:
    from app.capture.pipeline import frame_dpi

    # 3264 px across 297 mm, not 2448 px across 210 mm: A4 is longer than 4:3.
    assert frame_dpi(3264, 2448) == frame_dpi(2448, 3264) == 279
    assert frame_dpi(6000, 4500) == 513
