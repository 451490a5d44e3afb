"""The spoken call: Qt's mock speech engine is asked to say the right text, as often as
the settings say; without a Mandarin engine the chime plays instead and the status says
so; which installed voice counts as Mandarin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QLocale
from pytestqt.qtbot import QtBot

from ui.queue.voice import MOCK_ENGINE, CallAnnouncer, chime_pcm, main, mandarin_rank

Make = Callable[..., CallAnnouncer]


@pytest.fixture
def make(qtbot: QtBot) -> Iterator[Make]:
    """Announcers that have settled on their engine, closed after the test."""
    made: list[CallAnnouncer] = []

    def announcer(**options: object) -> CallAnnouncer:
        one = CallAnnouncer(**options)   # type: ignore[arg-type]
        made.append(one)
        if not one.done:
            with qtbot.waitSignal(one.settled, timeout=10_000):
                pass
        return one

    yield announcer
    for one in made:
        one.close()


def test_the_mock_engine_is_asked_to_say_the_call_in_chinese_as_often_as_set(
        qtbot: QtBot, make: Make) -> None:
    announcer = make(engine=MOCK_ENGINE, repeat=2)
    assert announcer.speaks and announcer.choice.engine == MOCK_ENGINE
    # The engine reports each word it speaks with its place in the text it was given:
    # the words must sit where they do in the expected sentence.
    heard: list[tuple[str, int, int, int]] = []
    announcer.saying_word.connect(lambda word, utterance, start, length:
                                  heard.append((word, utterance, start, length)))

    text = announcer.announce("A012", "3")

    assert text == "请A012号到3号窗口办理"
    expected = ["A012", "3"]
    qtbot.waitUntil(lambda: len([h for h in heard if h[0]]) == 2 * len(expected),
                    timeout=10_000)
    words = [h for h in heard if h[0]]
    for word, _utterance, start, length in words:
        assert text[start:start + length] == word
    assert [w for w, *_ in words] == expected * 2
    assert len({u for _w, u, *_ in words}) == 2   # two utterances: said twice


def test_the_template_and_repeat_come_from_the_settings(qtbot: QtBot, make: Make) -> None:
    announcer = make(engine=MOCK_ENGINE, template="请{number}号到{window}号窗口", repeat=3)
    with qtbot.waitSignals([announcer.spoken] * 3, timeout=1000):
        assert announcer.announce("B007", "12") == "请B007号到12号窗口"


def test_with_no_engine_installed_the_chime_plays_and_the_status_says_so(
        qtbot: QtBot, make: Make) -> None:
    announcer = make(available=[])
    assert not announcer.speaks
    assert "没有普通话语音引擎" in announcer.status and "提示音" in announcer.status
    with qtbot.waitSignal(announcer.chimed, timeout=1000) as chimed:
        announcer.announce("A012", "3")
    assert chimed.args == ["请A012号到3号窗口办理"]


def test_the_silent_mock_engine_is_never_chosen_by_itself(qtbot: QtBot, make: Make) -> None:
    # Every PySide6 wheel ships "mock": a hall with only it has no voice.
    announcer = make(available=[MOCK_ENGINE])
    assert not announcer.speaks
    with qtbot.waitSignal(announcer.chimed, timeout=1000):
        announcer.announce("C001", "2")


def test_a_named_engine_that_is_not_installed_falls_back_to_the_chime(make: Make) -> None:
    announcer = make(engine="sapi", available=[MOCK_ENGINE])
    assert not announcer.speaks
    assert "sapi" in announcer.status and "未安装" in announcer.status
    assert "不播报" in make(engine="none").status


def test_while_the_engine_starts_a_call_chimes_rather_than_waiting(
        qtbot: QtBot, make: Make) -> None:
    # The engine starts on its own thread (a hung speech-dispatcher must not freeze the
    # display): until it has, the call is not lost, the chime plays.
    announcer = CallAnnouncer(engine=MOCK_ENGINE)
    try:
        assert not announcer.done and "正在启动" in announcer.status
        with qtbot.waitSignal(announcer.chimed, timeout=1000):
            announcer.announce("A001", "1")
        qtbot.waitUntil(lambda: announcer.done, timeout=10_000)
        assert announcer.speaks
    finally:
        announcer.close()


def test_mandarin_voices_are_told_from_other_chinese_and_other_languages() -> None:
    c, zh_cn = QLocale.c(), QLocale(QLocale.Language.Chinese, QLocale.Country.China)
    zh_tw = QLocale(QLocale.Language.Chinese, QLocale.Country.Taiwan)
    # The names espeak-ng's voices have through speech-dispatcher (locale C).
    ranks = {name: mandarin_rank(name, locale) for name, locale in (
        ("Xiaoxiao", zh_cn), ("Hanhan", zh_tw),
        ("Chinese (Mandarin, latin as English)", c),
        ("Chinese (Mandarin, latin as English)+Adam", c),
        ("Chinese (Mandarin, latin as Pinyin)", c),
        ("Chinese (Cantonese)", QLocale("yue_HK")), ("Hakka Chinese", c),
        ("Bishnupriya Manipuri", c), ("Bob", QLocale("en_GB")))}
    spoken = sorted((r, n) for n, r in ranks.items() if r is not None)
    # espeak-ng 1.51's "latin as English" reads tone digits aloud: Pinyin first.
    assert [n for _, n in spoken] == [
        "Xiaoxiao", "Hanhan", "Chinese (Mandarin, latin as Pinyin)",
        "Chinese (Mandarin, latin as English)", "Chinese (Mandarin, latin as English)+Adam"]


def test_the_chime_is_about_a_second_of_sound() -> None:
    pcm = chime_pcm(22050)
    seconds = len(pcm) / 2 / 22050
    assert 0.8 < seconds < 1.0
    assert max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True))
               for i in range(0, len(pcm), 2)) > 10000


def test_the_probe_prints_one_json_line_of_what_the_display_would_use(
        qtbot: QtBot, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--probe", "--engine", MOCK_ENGINE]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["engine"], found["mandarin"]) == (MOCK_ENGINE, False)   # mock: English Bob
    assert found["voice"] and "没有普通话语音" in found["status"]
    assert MOCK_ENGINE not in found["engines"]          # never a hall's voice
    assert main(["--probe", "--engine", "none"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert (off["engine"], off["status"]) == ("", "已设置为不播报语音，叫号时播放提示音。")
