"""settings.toml: where the data lives, created on first start, bad values named."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import (
    CALL_TEMPLATE,
    DEFAULT_NOTICE,
    DEMO_SITE_CODE,
    ConfigError,
    Settings,
    check_call_template,
    data_dir,
    load_settings,
    resources_dir,
    save_settings,
)
from app.workstation import open_workstation

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_yichuang_home_overrides_the_data_dir(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("YICHUANG_HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home"
    settings = load_settings()
    assert settings.data_dir == tmp_path / "home"
    assert settings.database_path == tmp_path / "home" / "yichuang.db"


def test_without_the_override_a_per_user_dir_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YICHUANG_HOME", raising=False)
    assert data_dir().name == "yichuang"


def test_resources_default_to_the_source_tree(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.delenv("YICHUANG_RESOURCES", raising=False)
    assert resources_dir() == REPO_ROOT / "resources"
    assert (resources_dir() / "catalogue" / "demo.json").is_file()
    monkeypatch.setenv("YICHUANG_RESOURCES", str(tmp_path))
    assert resources_dir() == tmp_path


def test_settings_file_is_created_on_first_start(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    path = tmp_path / "settings.toml"
    assert path.is_file()
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert doc["site"]["code"] == DEMO_SITE_CODE
    assert doc["terminal"] == {"number": "01", "window": "1"}
    assert doc["queue"]["mode"] == "local"
    assert settings.is_demo_site and settings.standalone
    assert load_settings(tmp_path) == settings
    assert not list(tmp_path.glob("*.tmp"))


def test_saved_settings_load_back(tmp_path: Path) -> None:
    wanted = replace(Settings(data_dir=tmp_path), site_code="330102003", site_name="城关镇中心",
                     terminal="12", window="A3", server_url="https://zw.example.gov.cn",
                     queue_mode="site", yellow_warning_days=5,
                     printers={"a4": "system:HP_LaserJet", "pickup-slip": "escpos:tcp://10.0.0.31"},
                     thermal_dots=384, thermal_text_mode=True,
                     fonts=("/usr/share/fonts/a.ttc#1", "/usr/share/fonts/b.ttf"),
                     id_card_folder="/srv/reader/out", display_notice="请保管好随身物品。",
                     voice_engine="speechd", call_template="{number}号请到{window}号窗口",
                     call_repeat=3)
    save_settings(wanted)
    loaded = load_settings(tmp_path)
    assert loaded == wanted
    assert not loaded.is_demo_site and not loaded.standalone


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "settings.toml").write_text(body, encoding="utf-8")
    return tmp_path


def test_a_link_to_the_data_dir_is_no_id_card_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "reader").symlink_to(home)
    with pytest.raises(ConfigError, match=r"\[devices\] id_card_folder"):
        load_settings(_write(home, f'[devices]\nid_card_folder = "{tmp_path / "reader"}"\n'))


@pytest.mark.parametrize("folder", [".", "sub/cards", ".."])
def test_the_id_card_folder_may_not_be_the_data_dir_nor_around_it(tmp_path: Path,
                                                                    folder: str) -> None:
    """Card files in it are read and deleted: the program's own files must not be there."""
    home = tmp_path / "home"
    home.mkdir()
    place = (home / folder).resolve() if folder != "." else home
    with pytest.raises(ConfigError, match=r"\[devices\] id_card_folder"):
        load_settings(_write(home, f'[devices]\nid_card_folder = "{place}"\n'))


@pytest.mark.parametrize(("body", "fragments"), [
    ('[site]\ncode = "33010A001"\n', ["[site] code", "站点编码“33010A001”", "6至12位数字"]),
    ('[site]\ncode = 330100001\n', ["[site] code", "应为文本"]),
    ('[terminal]\nnumber = "00"\n', ["[terminal] number", "终端号“00”", "01-99"]),
    ('[terminal]\nnumber = "1"\n', ["[terminal] number", "两位数字"]),
    ('[terminal]\nwindow = ""\n', ["[terminal] window"]),
    ('[queue]\nmode = "cloud"\n', ["[queue] mode", "local 或 site"]),
    ('[server]\nurl = "ftp://zw.example"\n', ["[server] url", "http://"]),
    ('[deadlines]\nyellow_warning_days = 99\n', ["[deadlines] yellow_warning_days", "0至30"]),
    ('[deadlines]\nyellow_warning_days = true\n', ["[deadlines] yellow_warning_days"]),
    ('[site]\nname = ""\n', ["[site] name", "不能为空"]),
    ('site = "330100001"\n', ["[site]", "应为一个节"]),
    ('[site\ncode = "330100001"\n', ["settings.toml", "格式错误"]),
    ('[voice]\nrepeat = 0\n', ["[voice] repeat", "1至5"]),
    ('[voice]\nrepeat = 6\n', ["[voice] repeat", "1至5"]),
    ('[voice]\nrepeat = "2"\n', ["[voice] repeat", "整数"]),
    ('[voice]\ntemplate = "请{number}号办理"\n', ["[voice] template", "{window}"]),
    ('[voice]\ntemplate = "请{number}号到{window}号{counter}"\n', ["[voice] template"]),
    ('[voice]\ntemplate = "请{number号"\n', ["[voice] template", "花括号不成对"]),
    ('[voice]\nengine = "语音 引擎"\n', ["[voice] engine", "none", "speechd"]),
    ('[voice]\nengine = 1\n', ["[voice] engine", "应为文本"]),
    ('[display]\nnotice = ["a"]\n', ["[display] notice", "应为文本"]),
    ('display = "请排队"\n', ["[display]", "应为一个节"]),
    ('[site]\ncode = "330100001"\ncode = "330100002"\n', ["settings.toml", "格式错误"]),
])
def test_bad_values_name_the_key(tmp_path: Path, body: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, body))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_settings_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_bytes('[site]\nname = "城关镇"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="无法读取"):
        load_settings(tmp_path)


def test_bad_settings_are_never_saved(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="终端号"):
        save_settings(replace(Settings(data_dir=tmp_path), terminal="00"))
    assert not (tmp_path / "settings.toml").exists()


def test_a_bad_settings_file_stops_the_workstation_before_the_database(tmp_path: Path) -> None:
    _write(tmp_path, '[queue]\nmode = "cloud"\n')
    with pytest.raises(ConfigError, match="mode"):
        open_workstation(tmp_path)
    assert not (tmp_path / "yichuang.db").exists()


def test_a_settings_file_from_before_the_hall_settings_loads_their_defaults(
        tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, '[site]\nname = "城关镇中心"\n'))
    assert (settings.display_notice, settings.voice_engine, settings.call_template,
            settings.call_repeat) == (DEFAULT_NOTICE, "", CALL_TEMPLATE, 2)


def test_the_hall_settings_are_written_on_first_start_for_the_administrator(
        tmp_path: Path) -> None:
    load_settings(tmp_path)
    doc = tomllib.loads((tmp_path / "settings.toml").read_text(encoding="utf-8"))
    assert doc["display"] == {"notice": DEFAULT_NOTICE}
    assert doc["voice"] == {"engine": "", "template": CALL_TEMPLATE, "repeat": 2}


def test_a_notice_over_several_lines_scrolls_as_one_and_an_empty_one_is_kept(
        tmp_path: Path) -> None:
    body = '[display]\nnotice = """\n请保管好随身物品。\n  午间不休息。\n"""\n'
    assert load_settings(_write(tmp_path, body)).display_notice == "请保管好随身物品。 午间不休息。"
    assert load_settings(_write(tmp_path, '[display]\nnotice = ""\n')).display_notice == ""


def test_voice_off_is_the_engine_none(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, '[voice]\nengine = "none"\nrepeat = 1\n'))
    assert (settings.voice_engine, settings.call_repeat) == ("none", 1)


def test_a_bad_call_template_is_never_saved(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[voice\] template"):
        save_settings(replace(Settings(data_dir=tmp_path), call_template="请{number}号"))
    assert not (tmp_path / "settings.toml").exists()


def test_a_call_template_names_the_number_and_the_window_and_nothing_else() -> None:
    assert check_call_template(CALL_TEMPLATE) == CALL_TEMPLATE
    assert check_call_template("{window}号窗口请{number}号") == "{window}号窗口请{number}号"
    for bad in ("请{number}号办理", "请{number}号到{window}号{counter}", "请{number号",
                "请{}号到{window}号窗口", "请{number}号到{window}号窗口}",
                "请{number:x}号到{window}号窗口", "请{number:>999999999}号到{window}号窗口",
                "请{number!r}号到{window}号窗口"):
        with pytest.raises(ValueError, match="叫号语音模板"):
            check_call_template(bad)


@pytest.mark.parametrize("window", ["../../x", "1 2", "", "九位窗口号九位窗口"])
def test_a_window_number_that_could_name_a_path_is_refused(tmp_path: Path, window: str) -> None:
    (tmp_path / "settings.toml").write_text(f'[terminal]\nwindow = "{window}"\n',
                                            encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[terminal\] window"):
        load_settings(tmp_path)
