"""From raw captures to stored pages under a profile (app/capture/prepare.py,
app/capture/profiles.py), on the fake source's pages, which know the angle they were
drawn at and where the page lies in a camera frame. Stored pages are read back from
their JPEG bytes, as a viewer (and the case PDF) will see them."""

from __future__ import annotations

import io
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from PIL import Image

from app.capture.fake_source import PageKind, camera_frame, draw_page, scanned
from app.capture.pipeline import A4_MM, MM_PER_INCH, Pixels, flatten, skew_angle
from app.capture.prepare import CapturedPage, captured_pages
from app.capture.profiles import DEFAULT, ID_CARD_MM, PROFILES, ProfileCode, profile
from app.capture.source import CaptureError, RawPage
from app.errors import UserError

FORM = profile("a4_form")
CERTIFICATE = profile("certificate")
ID_CARD = profile("id_card")
ADF = profile("adf_duplex")


def _pixels(page: CapturedPage) -> Pixels:
    pixels = cv2.imdecode(np.frombuffer(page.page.jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    assert pixels is not None, "the stored JPEG does not decode"
    return pixels


def _jpeg_facts(page: CapturedPage) -> tuple[str, tuple[int, int], tuple[int, int]]:
    with Image.open(io.BytesIO(page.page.jpeg)) as image:
        dpi = tuple(round(d) for d in image.info["dpi"])
        return image.mode, image.size, (dpi[0], dpi[1])


def _scan(kind: PageKind, skew: float = 1.2, dpi: int = 200, seed: int = 0) -> RawPage:
    return RawPage(scanned(kind, skew, dpi=dpi, seed=seed).image, dpi, f"{kind.value} {seed}")


def _card(side: str, seed: int = 0, skew: float = 1.5, dpi: int = 300) -> RawPage:
    """A flatbed scan (A4) of one side of an identity card lying crooked on the white
    lid: the front has a grey photo at the right, the back a red seal at the left."""
    w, h = (round(mm / MM_PER_INCH * dpi) for mm in ID_CARD_MM)
    card = np.full((h, w, 3), (230, 212, 196), np.uint8)
    text = draw_page(PageKind.FORM, dpi=dpi, seed=seed)[dpi // 2: dpi // 2 + h, dpi // 3:]
    card = np.minimum(card, text[:, :w])
    if side == "front":
        cv2.rectangle(card, (w * 2 // 3, h // 6), (w - w // 12, h - h // 6), (150, 150, 160), -1)
    else:
        cv2.circle(card, (w // 5, h // 3), h // 5, (40, 40, 200), dpi // 50)
    cv2.rectangle(card, (0, 0), (w - 1, h - 1), (150, 140, 130), 3)
    a4w, a4h = (round(mm / MM_PER_INCH * dpi) for mm in A4_MM)
    sheet = np.full((a4h, a4w, 3), 252, np.uint8)
    top, left = a4h // 10, a4w // 8
    sheet[top: top + h, left: left + w] = card
    turn = cv2.getRotationMatrix2D((left + w / 2, top + h / 2), skew, 1.0)
    return RawPage(cv2.warpAffine(sheet, turn, (a4w, a4h), borderValue=(252, 252, 252)), dpi,
                   f"card {side} {seed}")


def _red(pixels: Pixels) -> int:
    b, g, r = (pixels[..., i].astype(np.int16) for i in range(3))
    return int(np.count_nonzero((r > 150) & (r - g > 80) & (r - b > 80)))


# Profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("wanted", ["2", "a4_form", "A4 表单", "  2 ", " A4 表单\n"])
def test_a_profile_is_found_by_its_key_code_or_name(wanted: str) -> None:
    assert profile(wanted) is FORM
    assert FORM.code is ProfileCode.A4_FORM


def test_every_profile_has_its_own_key_and_the_default_is_the_a4_form() -> None:
    assert sorted(p.key for p in PROFILES) == ["1", "2", "3", "4"]
    assert [profile(p.key) for p in PROFILES] == list(PROFILES)
    assert DEFAULT is FORM


def test_an_unknown_profile_names_every_choice_in_its_message() -> None:
    with pytest.raises(UserError) as raised:
        profile("身份证正面")
    message = str(raised.value)
    assert "身份证正面" in message
    for p in PROFILES:
        assert p.name in message and p.code.value in message and p.key in message


def test_profiles_follow_archival_practice_and_scan_as_they_say() -> None:
    assert (FORM.dpi, FORM.colour) == (200, False)
    assert (CERTIFICATE.dpi, CERTIFICATE.colour) == (300, True)
    assert (ID_CARD.dpi, ID_CARD.colour, ID_CARD.sides_per_page) == (300, True, 2)
    assert ADF.settings.feeder and ADF.settings.duplex and ADF.drop_blank
    assert CERTIFICATE.summary == "300 dpi 彩色 单张"
    assert ADF.summary == "200 dpi 灰度 双面进纸器"


# Scans ------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-6.4, -1.7, 0.9, 4.1])
def test_a_crooked_scan_is_stored_level(skew: float) -> None:
    (page,) = captured_pages([_scan(PageKind.FORM, skew, seed=3)], FORM)
    assert abs(page.skew_removed + skew) <= 0.3, (skew, page.skew_removed)
    assert abs(skew_angle(_pixels(page))) <= 0.3


def test_a_level_scan_is_not_turned() -> None:
    (page,) = captured_pages([_scan(PageKind.FORM, 0.0)], FORM)
    assert page.skew_removed == 0.0
    assert (page.page.width, page.page.height) == (1654, 2339)   # A4 at 200 dpi, untouched


def test_a_300_dpi_scan_is_stored_at_the_forms_200_dpi_never_raised() -> None:
    (down,) = captured_pages([_scan(PageKind.FORM, 0.0, dpi=300)], FORM)
    assert (_jpeg_facts(down)[2], down.effective_dpi) == ((200, 200), 200)
    assert down.page.width == pytest.approx(1654, abs=1)   # 2480 × 2/3, rounded either way
    # A 200-dpi scan under the certificate profile keeps its 200 dpi: upscaling adds
    # bytes, not detail.
    (kept,) = captured_pages([_scan(PageKind.CERTIFICATE, 0.0, dpi=200)], CERTIFICATE)
    assert (_jpeg_facts(kept)[2], kept.effective_dpi, kept.page.width) == ((200, 200), 200, 1654)


def test_a_scan_that_states_no_dpi_is_taken_as_200_dpi() -> None:
    raw = _scan(PageKind.FORM, 0.0)
    (page,) = captured_pages([RawPage(raw.pixels, None, raw.origin)], FORM)
    assert (page.page.dpi, page.effective_dpi) == (200, 200)


# Camera frames ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 4, 6])
def test_a_camera_frame_is_cut_to_the_page_with_a4_proportions_and_its_true_dpi(
        seed: int) -> None:
    frame, corners = camera_frame(PageKind.FORM, seed=seed)
    (page,) = captured_pages([RawPage(frame, None, "高拍仪 1", from_camera=True)], FORM)
    pixels = _pixels(page)
    height, width = pixels.shape[:2]
    # The proportions of the quadrilateral the page makes in the frame (the fake pulls
    # its corners apart by up to 3 % each, so that is A4 only to within ~6 %).
    seen = flatten(frame, corners).shape[:2]
    assert height / width == pytest.approx(seen[0] / seen[1], rel=0.01)
    assert height / width == pytest.approx(297 / 210, rel=0.06)
    # The page seen by a 3264×2448 camera is about 1400 px wide: ≈ 170 dpi on A4,
    # below the form's 200, so it is kept as it is and says so.
    dpi = round(width / (210 / MM_PER_INCH))
    assert page.effective_dpi == page.page.dpi == dpi
    assert dpi < 200
    assert _jpeg_facts(page)[2] == (dpi, dpi)
    # Cut to the page: inside a few pixels of its edges, no desk is left.
    assert np.count_nonzero(pixels[8:-8, 8:-8] < 120) < 0.03 * pixels.size
    assert page.skew_removed == 0.0
    assert abs(skew_angle(pixels)) <= 0.3


@pytest.mark.parametrize("seed", [1, 4])
def test_no_line_of_desk_is_left_along_a_camera_pages_edges(seed: int) -> None:
    frame, _ = camera_frame(PageKind.FORM, seed=seed)
    (page,) = captured_pages([RawPage(frame, None, "高拍仪 1", from_camera=True)], FORM)
    pixels = _pixels(page)
    for edge in (pixels[:2], pixels[-2:], pixels[:, :2], pixels[:, -2:]):
        assert np.count_nonzero(edge < 120) < 0.05 * edge.size


def test_a_sharper_camera_is_brought_down_to_the_profiles_dpi() -> None:
    frame, _ = camera_frame(PageKind.FORM, size=(6000, 4500), seed=2)
    (page,) = captured_pages([RawPage(frame, None, "高拍仪 1", from_camera=True)], FORM)
    assert (page.page.dpi, page.effective_dpi) == (200, 200)
    assert page.page.width == pytest.approx(1654, abs=3)


# Identity cards ---------------------------------------------------------------------


def test_an_id_cards_two_sides_go_onto_one_a4_page_at_300_dpi_front_above_back() -> None:
    pages = list(captured_pages([_card("front", 1), _card("back", 2, skew=-1.0)], ID_CARD))
    assert len(pages) == 1
    (page,) = pages
    assert _jpeg_facts(page) == ("RGB", (2480, 3508), (300, 300))
    assert page.origin == "card front 1 + card back 2"
    sheet = _pixels(page)
    top, bottom = sheet[:1754], sheet[1754:]
    card_w, card_h = (round(mm / MM_PER_INCH * 300) for mm in ID_CARD_MM)
    for half in (top, bottom):
        ys, xs = np.nonzero(cv2.cvtColor(half, cv2.COLOR_BGR2GRAY) < 240)
        # Each half holds one card at its true size (85.6 × 54 mm), turned level.
        assert xs.max() - xs.min() == pytest.approx(card_w, abs=12)
        assert ys.max() - ys.min() == pytest.approx(card_h, abs=12)
    # The back's red seal is on the lower card only; the front's photo on the upper.
    assert _red(bottom) > 2000 and _red(top) == 0
    photo = (sheet[..., 0] < 170) & (sheet[..., 0] > 130) & (sheet[..., 2] > 130)
    assert np.count_nonzero(photo[:1754]) > 50_000 > np.count_nonzero(photo[1754:])


def test_an_odd_number_of_card_sides_leaves_the_last_alone_on_its_page() -> None:
    raws = [_card("front", 1), _card("back", 2), _card("front", 3)]
    pages = list(captured_pages(raws, ID_CARD))
    assert [p.origin for p in pages] == ["card front 1 + card back 2", "card front 3"]
    last = cv2.cvtColor(_pixels(pages[1]), cv2.COLOR_BGR2GRAY)
    assert np.count_nonzero(last[:1754] < 240) > 100_000   # the card, above
    assert np.count_nonzero(last[1754:] < 240) == 0          # nothing below


def test_a_sheet_without_a_card_on_it_is_not_squeezed_into_a_cards_place() -> None:
    whole_form = _scan(PageKind.FORM, 1.0, dpi=300)
    with pytest.raises(UserError):
        list(captured_pages([whole_form, _card("back", 2)], ID_CARD))


# Blank pages, grey and colour --------------------------------------------------------


def test_blank_pages_are_dropped_only_when_the_profile_says_so() -> None:
    raws = [_scan(PageKind.FORM, seed=1), _scan(PageKind.BLANK, seed=2),
            _scan(PageKind.FORM, seed=3)]
    kept = list(captured_pages(raws, FORM))
    assert [p.blank for p in kept] == [False, True, False]
    dropped = list(captured_pages(raws, ADF))
    assert [p.origin for p in dropped] == ["表单 1", "表单 3"]


def test_a_form_is_stored_grey_and_a_certificate_in_colour_with_its_red_seal() -> None:
    (grey,) = captured_pages([_scan(PageKind.CERTIFICATE, 0.0, dpi=300)], FORM)
    assert _jpeg_facts(grey)[0] == "L" and not grey.page.colour
    assert grey.page.width == pytest.approx(1654, abs=1)
    (colour,) = captured_pages([_scan(PageKind.CERTIFICATE, 0.0, dpi=300)], CERTIFICATE)
    assert _jpeg_facts(colour)[:2] == ("RGB", (2480, 3508)) and colour.page.colour
    assert _red(_pixels(colour)) > 2000


def test_pages_come_out_one_by_one_as_their_captures_arrive() -> None:
    fed: list[str] = []

    def feed() -> Iterator[RawPage]:
        for seed in (1, 2):
            fed.append(f"表单 {seed}")
            yield _scan(PageKind.FORM, seed=seed)

    pages = captured_pages(feed(), FORM)
    first = next(pages)
    assert (first.origin, fed) == ("表单 1", ["表单 1"])


def test_a_feeder_that_never_empties_is_stopped_and_closed() -> None:
    from app.capture.source import MAX_RAW_PAGES

    closed = []

    def endless_blanks() -> Iterator[RawPage]:
        try:
            while True:   # a scanner sending blank backs for ever: every one dropped
                yield RawPage(np.full((280, 200), 255, np.uint8), 24, "空白")
        finally:
            closed.append(True)

    with pytest.raises(CaptureError, match=f"超过 {MAX_RAW_PAGES} 页"):
        list(captured_pages(endless_blanks(), ADF))
    assert closed == [True]   # the source's job is ended (its finally ran)


def test_a_page_said_to_be_metres_long_is_refused_and_an_unknown_dpi_is_taken_as_a4(
        ) -> None:
    huge = np.full((6000, 4000), 255, np.uint8)
    huge[1000:1100, 500:3500] = 0
    with pytest.raises(CaptureError, match="超过 A3"):
        list(captured_pages([RawPage(huge, 121, "巨幅.pdf 第1页")], FORM))
    (page,) = captured_pages([RawPage(huge, None, "无分辨率.png")], FORM)
    # 6000 px over A4's 297 mm is 513 dpi; stored at the profile's 200.
    assert (page.page.dpi, page.page.height) == (200, pytest.approx(2339, abs=2))
