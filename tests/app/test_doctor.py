"""doctor's font check against the fonts ./test installs (fonts-wqy-*)."""

from __future__ import annotations

import shutil

import pytest

from app.services import doctor


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is Linux-only")
def test_wenquanyi_is_found_as_embeddable_simplified_chinese_font() -> None:
    fonts = doctor.cjk_fonts_from_fontconfig()
    assert fonts is not None
    wqy = [f for f in fonts if f[0].startswith("WenQuanYi")]
    assert wqy, fonts
    assert all(embeddable and path.endswith(".ttc") for _, path, embeddable in wqy)
    check = doctor.check_fonts()
    assert check.ok and "WenQuanYi" in check.detail
