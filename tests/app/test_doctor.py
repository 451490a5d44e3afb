"""doctor's font and printer checks against what ./test installs (fonts-wqy-*, HanaMin)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings, load_settings
from app.services import doctor
from app.services.doctor import check_authorities


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is Linux-only")
def test_wenquanyi_is_found_as_embeddable_simplified_chinese_font() -> None:
    fonts = doctor.cjk_fonts_from_fontconfig()
    assert fonts is not None
    wqy = [f for f in fonts if f[0].startswith("WenQuanYi")]
    assert wqy, fonts
    assert all(embeddable and path.endswith(".ttc") for _, path, embeddable in wqy)
    check = doctor.check_screen_fonts()
    assert check.ok and "WenQuanYi" in check.detail


def test_document_fonts_report_coverage_and_the_rare_character_fallback(tmp_path: Path) -> None:
    check = doctor.check_document_fonts(Settings(data_dir=tmp_path))
    assert check.ok, check.detail
    assert "wqy-zenhei.ttc（GB2312 100%" in check.detail
    assert "HanaMinB.ttf" in check.detail and "扩展B 100%" in check.detail


def test_a_configured_font_file_that_is_missing_is_reported(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, fonts=(str(tmp_path / "gone.ttf"),))
    check = doctor.check_document_fonts(settings)
    assert not check.ok and "gone.ttf" in check.detail


def test_printers_name_what_each_document_kind_prints_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, printers={
        "a4": "system:Laser", "thermal": "escpos:tcp://10.0.0.31:9100"})
    check = doctor.check_printers(settings)
    assert "A4文书→打印机 Laser" in check.detail
    assert "小票→热敏打印机 tcp://10.0.0.31:9100" in check.detail
    unset = doctor.check_printers(Settings(data_dir=tmp_path))
    assert "未配置热敏打印机" in unset.detail


def test_authorities_missing_from_the_settings_are_named(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert check_authorities(s, {"示例县烟草专卖局"}).ok
    missing = check_authorities(s, {"示例县烟草专卖局", "某县交通运输局"})
    assert not missing.ok and "某县交通运输局未在 settings.toml 的 [authorities] 中登记" in missing.detail
