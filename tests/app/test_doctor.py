"""doctor's font, printer and voice checks against what ./test installs (fonts-wqy-*,
HanaMin, speech-dispatcher with espeak-ng)."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import replace
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


def _has_espeak_ng_mandarin() -> bool:
    """What packaging/setup-env.sh installs: speech-dispatcher's espeak-ng module, whose
    voice list has Mandarin (cmn)."""
    module = Path("/usr/lib/speech-dispatcher-modules/sd_espeak-ng")
    mandarin = list(Path("/usr/lib").glob("*/espeak-ng-data/lang/sit/cmn"))
    return module.exists() and bool(mandarin) and shutil.which("speech-dispatcher") is not None


def test_the_voice_check_names_the_engine_and_mandarin_voice_the_display_speaks_with(
        tmp_path: Path) -> None:
    # The real probe, in a child process with Qt: doctor itself never loads Qt.
    check = doctor.check_voice(Settings(data_dir=tmp_path))
    if _has_espeak_ng_mandarin():
        assert check.ok, check.detail
        assert check.detail.startswith("speechd · Chinese (Mandarin"), check.detail
        assert "普通话" in check.detail and "已安装的引擎：speechd" in check.detail
    else:
        assert not check.ok and "叫号将只响提示音" in check.detail
        assert "speech-dispatcher" in check.detail and "espeak-ng" in check.detail


def test_voice_turned_off_in_the_settings_is_reported_without_asking_an_engine(
        tmp_path: Path) -> None:
    settings = replace(Settings(data_dir=tmp_path), voice_engine="none")
    failing = [sys.executable, "-c", "raise SystemExit(3)"]   # were it run: a ✗
    check = doctor.check_voice(settings, command=failing)
    assert check.ok
    assert check.detail == '已设置为不播报（[voice] engine = "none"），叫号时只响提示音'


def test_an_engine_named_in_the_settings_that_is_not_installed_is_reported(
        tmp_path: Path) -> None:
    settings = replace(Settings(data_dir=tmp_path), voice_engine="nosuchengine")
    check = doctor.check_voice(settings)
    assert not check.ok
    assert "语音引擎“nosuchengine”未安装" in check.detail
    assert "提示音" in check.detail and "[voice] engine" in check.detail


def _alive(pid: int) -> bool:
    """Running (a zombie left for a container's init to reap is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_probe_that_never_answers_is_killed_with_what_it_started(tmp_path: Path) -> None:
    # As a hung speech-dispatcher leaves it: the probe and its own engine check waiting.
    pid_file = tmp_path / "grandchild.pid"
    hang = [sys.executable, "-c",
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(600)\n"]
    check = doctor.check_voice(Settings(data_dir=tmp_path), timeout_s=5, command=hang)
    assert not check.ok
    assert check.detail.startswith("语音引擎5秒内没有响应") and "只响提示音" in check.detail
    # Killed: its pipes closed as it exited, which can be a moment before it is a zombie.
    grandchild = int(pid_file.read_text(encoding="ascii"))
    for _ in range(200):
        if not _alive(grandchild):
            break
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_probe_that_fails_says_why(tmp_path: Path) -> None:
    broken = [sys.executable, "-c", "import sys; print('ModuleNotFoundError: No module named "
              "PySide6.QtTextToSpeech', file=sys.stderr); sys.exit(1)"]
    check = doctor.check_voice(Settings(data_dir=tmp_path), command=broken)
    assert not check.ok
    assert "PySide6.QtTextToSpeech" in check.detail and "./run" in check.detail


def test_an_engine_name_like_an_option_is_reported_as_not_installed(tmp_path: Path) -> None:
    check = doctor.check_voice(replace(Settings(data_dir=tmp_path), voice_engine="--help"))
    assert not check.ok
    assert "语音引擎“--help”未安装" in check.detail and "./run" not in check.detail


def test_capture_devices_name_the_scanners_by_their_spec_and_a_missing_scan_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANE_CONFIG_DIR",
                       str(Path(__file__).resolve().parents[1] / "fixtures" / "sane"))
    settings = load_settings(tmp_path)
    check = doctor.check_capture_devices(settings)
    assert check.ok, check.detail
    assert "（sane:test:0）" in check.detail and "（sane:test:1）" in check.detail
    gone = doctor.check_capture_devices(replace(settings, scan_folder=str(tmp_path / "无")))
    assert not gone.ok and "扫描文件夹" in gone.detail and "不存在" in gone.detail
    monkeypatch.setenv("SANE_CONFIG_DIR", str(tmp_path))   # no backend enabled: no scanner
    monkeypatch.setattr(doctor.glob, "glob", lambda _pattern: [])
    none = doctor.check_capture_devices(settings)
    assert not none.ok and "仍可导入文件" in none.detail
