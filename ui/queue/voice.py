"""The spoken call: "请A012号到3号窗口办理", offline, through QtTextToSpeech.

Which engine speaks: the one the settings name, or — left empty — the first installed
engine that has a Mandarin voice. On Debian that is ``speechd`` (speech-dispatcher)
with espeak-ng, whose Mandarin voice Qt lists under the C locale by name ("Chinese
(Mandarin, latin as English)"), not under zh_CN. Qt's ``mock`` engine (shipped with
every PySide6 wheel, silent) is never chosen automatically; tests name it.

Where no engine has a Mandarin voice, a chime plays instead (generated here, no file)
and :attr:`CallAnnouncer.status` says so; the hall display still shows the call.

Starting an engine can hang: speech-dispatcher's client waits forever on a daemon that
accepted the connection and stopped answering (seen with no sound device), and Qt's
engine constructor holds Python's GIL meanwhile — no thread of this process would run.
So a real engine is first tried in a short-lived child process (:func:`engine_answers`,
with a timeout), then started on the announcer's own thread.

``python -m ui.queue.voice --probe [--engine NAME]`` prints, as one JSON line, the engine
and voice the display would use: ``yichuang doctor`` runs it (the core never loads Qt).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QEventLoop,
    QIODevice,
    QLocale,
    QObject,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices
from PySide6.QtTextToSpeech import QTextToSpeech, QVoice
from PySide6.QtWidgets import QApplication

from app.config import (
    CALL_REPEAT,
    CALL_TEMPLATE,
    MAX_CALL_REPEAT,
    NO_VOICE,
    check_call_template,
)

MOCK_ENGINE = "mock"      # Qt's silent test engine: only when named

# Mandarin, by how sure the voice's name is about it; Cantonese, Hakka and Min are not.
_MANDARIN_NAME = re.compile(r"mandarin|\bcmn\b|普通话|国语|putonghua", re.IGNORECASE)
_OTHER_CHINESE = re.compile(r"cantonese|\byue\b|hakka|min nan|粤|客家|闽", re.IGNORECASE)


def mandarin_rank(name: str, locale: QLocale) -> int | None:
    """How well a voice speaks Mandarin: 0 best; None when it does not.

    A zh_CN voice first, then other Mandarin locales (zh_TW, zh_SG), then a voice named
    Mandarin in any locale (espeak-ng's through speech-dispatcher report the C locale).
    Among espeak-ng's, "latin as Pinyin" first: in espeak-ng 1.51 (Debian 12) the
    "latin as English" voice reads each character's pinyin tone digit in English (ni
    three hao three; espeak-ng issue 1028), the Pinyin one reads 请A012号 right. The
    "+Adam" style variants come after the plain voice.
    """
    if _OTHER_CHINESE.search(name):
        return None
    variant = 1 if "+" in name else 0
    if locale.language() == QLocale.Language.Chinese:
        china = locale.territory() == QLocale.Country.China
        return (0 if china else 2) + variant
    if _MANDARIN_NAME.search(name):
        pinyin = 0 if "pinyin" in name.lower() else 2
        return 4 + pinyin + variant
    return None


def _mandarin_voice(tts: QTextToSpeech) -> QVoice | None:
    """The engine's best Mandarin voice; looks only in Chinese locales and the C locale
    (an engine may list a hundred locales; switching to each is slow)."""
    best: tuple[int, QVoice] | None = None
    start = tts.locale()
    for locale in tts.availableLocales():
        if locale.language() not in (QLocale.Language.Chinese, QLocale.Language.C):
            continue
        tts.setLocale(locale)
        for voice in tts.availableVoices():
            rank = mandarin_rank(voice.name(), voice.locale())
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, voice)
    if best is None:
        tts.setLocale(start)
        return None
    return best[1]


def chime_pcm(rate: int = 22050) -> bytes:
    """A two-note chime (叮咚), 16-bit mono PCM at ``rate``: no sound file to ship."""
    frames: list[int] = []
    for freq, seconds in ((880.0, 0.35), (660.0, 0.55)):
        n = int(rate * seconds)
        for i in range(n):
            decay = math.exp(-4.0 * i / n)
            frames.append(int(12000 * decay * math.sin(2 * math.pi * freq * i / rate)))
    return struct.pack(f"<{len(frames)}h", *frames)


@dataclass(frozen=True)
class SpeechChoice:
    """What :class:`CallAnnouncer` settled on (``doctor`` prints it)."""

    engine: str        # "" when the chime plays instead
    voice: str
    locale: str
    status: str        # one Chinese sentence for the operator
    mandarin: bool = False


def _no_voice(status: str) -> SpeechChoice:
    return SpeechChoice("", "", "", status)


STARTING = _no_voice("正在启动语音引擎，叫号暂用提示音……")


class _Speaker(QObject):
    """The engine, on its own thread: speech-dispatcher answers its socket slowly, or
    not at all when its daemon hangs (seen with no sound device), and the engine's
    constructor waits for it — the display must not."""

    settled = Signal(object)               # SpeechChoice
    word = Signal(str, int, int, int)      # the engine's sayingWord, passed on

    def __init__(self, wanted: str, engines: list[str]) -> None:
        super().__init__()
        self._wanted = wanted
        self._engines = engines
        self._tts: QTextToSpeech | None = None
        self._hung: SpeechChoice | None = None

    @Slot()
    def start(self) -> None:
        if self._wanted:
            choice = self._use(self._wanted, must_speak_mandarin=False) or _no_voice(
                f"语音引擎“{self._wanted}”无法启动，叫号时播放提示音。")
        else:
            choice = next((c for name in self._engines if name != MOCK_ENGINE
                           if (c := self._use(name, must_speak_mandarin=True)) is not None),
                          None) or self._hung or _no_voice(NO_MANDARIN)
        self.settled.emit(choice)

    @Slot(str, int)
    def say(self, text: str, times: int) -> None:
        if self._tts is not None:
            for _ in range(times):
                self._tts.enqueue(text)

    @Slot()
    def stop(self) -> None:
        if self._tts is not None:
            self._tts.stop()

    def _use(self, name: str, *, must_speak_mandarin: bool) -> SpeechChoice | None:
        if name != MOCK_ENGINE and not engine_answers(name):
            self._hung = _no_voice(f"语音引擎“{name}”没有响应（speech-dispatcher 可能卡住或没有"
                                   "声音设备），叫号时播放提示音。")
            return None
        tts = QTextToSpeech(name, self)
        if tts.state() == QTextToSpeech.State.Error:
            tts.deleteLater()
            return None
        voice = _mandarin_voice(tts)
        if voice is None and must_speak_mandarin:
            tts.deleteLater()
            return None
        if voice is not None:
            tts.setVoice(voice)
        tts.sayingWord.connect(lambda word, utterance, start, length:
                               self.word.emit(word, utterance, start, length))
        self._tts = tts
        used = tts.voice()
        note = "" if voice is not None else "（没有普通话语音，使用其默认语音）"
        return SpeechChoice(name, used.name(), used.locale().name(),
                            f"语音播报：{name} · {used.name()}{note}", mandarin=voice is not None)


ENGINE_PROBE_S = 10.0
_PROBE = """
import sys
from PySide6.QtCore import QCoreApplication
from PySide6.QtTextToSpeech import QTextToSpeech
app = QCoreApplication(sys.argv[:1])
tts = QTextToSpeech(sys.argv[1])
print("error" if tts.state() == QTextToSpeech.State.Error else "ok", flush=True)
"""


def engine_answers(name: str, timeout_s: float = ENGINE_PROBE_S) -> bool:
    """Whether engine ``name`` starts within ``timeout_s``, tried in a child process
    (waiting on it releases the GIL; a hung one is killed, not this process)."""
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, name], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() == "ok"


NO_MANDARIN = ("本机没有普通话语音引擎（Debian 上请安装 speech-dispatcher 与 espeak-ng），"
               "叫号时播放提示音。")


class CallAnnouncer(QObject):
    """Says each call ``repeat`` times, or chimes where no Mandarin voice exists (and
    while the engine is still starting)."""

    settled = Signal()                     # :attr:`choice` is final
    spoken = Signal(str)                   # a text handed to the engine (per repetition)
    chimed = Signal(str)                   # the chime played instead, for this text
    saying_word = Signal(str, int, int, int)   # the engine: word, utterance, start, length
    _say = Signal(str, int)
    _stop = Signal()

    def __init__(self, parent: QObject | None = None, *, engine: str = "",
                 template: str = CALL_TEMPLATE, repeat: int = CALL_REPEAT,
                 available: Sequence[str] | None = None) -> None:
        super().__init__(parent)
        self.template = check_call_template(template)
        self.repeat = max(1, min(MAX_CALL_REPEAT, repeat))
        self._sink: QAudioSink | None = None
        self._buffer: QBuffer | None = None
        self._thread: QThread | None = None
        engines = list(QTextToSpeech.availableEngines() if available is None else available)
        wanted = engine.strip()
        self.choice = self._without_engine(wanted, engines) or STARTING
        self.done = self.choice is not STARTING
        if self.done:
            return
        self._thread = QThread(self)
        self._speaker = _Speaker(wanted, engines)
        self._speaker.moveToThread(self._thread)
        self._thread.started.connect(self._speaker.start)
        self._thread.finished.connect(self._speaker.deleteLater)
        self._speaker.settled.connect(self._settled, Qt.ConnectionType.QueuedConnection)
        self._speaker.word.connect(self.saying_word, Qt.ConnectionType.QueuedConnection)
        self._say.connect(self._speaker.say, Qt.ConnectionType.QueuedConnection)
        self._stop.connect(self._speaker.stop, Qt.ConnectionType.QueuedConnection)
        self._thread.start()

    @staticmethod
    def _without_engine(wanted: str, engines: list[str]) -> SpeechChoice | None:
        """The choice when no engine needs starting: voice off, or nothing to try."""
        if wanted.lower() == NO_VOICE:
            return _no_voice("已设置为不播报语音，叫号时播放提示音。")
        if wanted and wanted not in engines:
            return _no_voice(f"语音引擎“{wanted}”未安装（可用：{'、'.join(engines) or '无'}），"
                             "叫号时播放提示音。")
        if not wanted and not [e for e in engines if e != MOCK_ENGINE]:
            return _no_voice(NO_MANDARIN)
        return None

    @property
    def status(self) -> str:
        return self.choice.status

    @property
    def speaks(self) -> bool:
        return bool(self.choice.engine)

    def text_for(self, number: str, window: str) -> str:
        return self.template.format(number=number, window=window)

    def announce(self, number: str, window: str) -> str:
        """Say (or chime) the call; returns its text. Queued behind a call still being
        said: two windows calling at once are both heard, in order."""
        text = self.text_for(number, window)
        if not self.speaks:
            self._chime()
            self.chimed.emit(text)
            return text
        self._say.emit(text, self.repeat)
        for _ in range(self.repeat):
            self.spoken.emit(text)
        return text

    def close(self, wait_ms: int = 2000) -> None:
        """Stop speaking and end the engine's thread (not waiting on a hung engine
        longer than ``wait_ms``: the process is ending anyway)."""
        if self._sink is not None:
            self._sink.stop()
        if self._thread is not None and self._thread.isRunning():
            self._stop.emit()
            self._thread.quit()
            self._thread.wait(wait_ms)

    @Slot(object)
    def _settled(self, choice: SpeechChoice) -> None:
        self.choice, self.done = choice, True
        self.settled.emit()

    def _chime(self) -> None:
        """Play the chime on the default output; a system beep where there is none."""
        device = QMediaDevices.defaultAudioOutput()
        if device.isNull():
            QApplication.beep()
            return
        fmt = QAudioFormat()
        fmt.setSampleRate(22050)
        fmt.setChannelCount(1)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if self._sink is not None:
            self._sink.stop()
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(chime_pcm(22050)))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = QAudioSink(device, fmt, self)
        self._sink.start(self._buffer)


def speech_choice(engine: str = "", timeout_ms: int = 15_000) -> SpeechChoice:
    """What the hall display would speak with (for ``doctor``); needs a Q(Core)Application
    and runs its event loop until the engine answered, at most ``timeout_ms``."""
    announcer = CallAnnouncer(engine=engine)
    try:
        if not announcer.done:
            loop = QEventLoop()
            announcer.settled.connect(loop.quit)
            QTimer.singleShot(timeout_ms, loop.quit)
            loop.exec()
        if not announcer.done:
            return _no_voice(f"语音引擎在{timeout_ms // 1000}秒内没有响应（speech-dispatcher "
                             "可能卡住或没有声音设备），叫号时播放提示音。")
        return announcer.choice
    finally:
        announcer.close()
        announcer.deleteLater()


# ---- the probe `yichuang doctor` runs (python -m ui.queue.voice --probe) ------------------

PROBE_TIMEOUT_MS = 12_000


def probe(engine: str = "", timeout_ms: int = PROBE_TIMEOUT_MS) -> dict[str, object]:
    """What the hall display would speak with, as plain data: the core's doctor cannot
    import Qt, so it runs this in a child process and reads one JSON line."""
    choice = speech_choice(engine, timeout_ms)
    return {"engine": choice.engine, "voice": choice.voice, "locale": choice.locale,
            "mandarin": choice.mandarin, "status": choice.status,
            "engines": [e for e in QTextToSpeech.availableEngines() if e != MOCK_ENGINE]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.queue.voice")
    parser.add_argument("--probe", action="store_true", required=True,
                        help="print the engine and voice the hall display would use (JSON)")
    parser.add_argument("--engine", default="", help="[voice] engine of settings.toml")
    parser.add_argument("--timeout-ms", type=int, default=PROBE_TIMEOUT_MS)
    args = parser.parse_args(argv)
    # No window: a core application runs the engines' event loop without a display.
    _app = QCoreApplication.instance() or QCoreApplication(["yichuang-voice-probe"])
    print(json.dumps(probe(args.engine, args.timeout_ms), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
