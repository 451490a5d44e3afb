"""``yichuang doctor``: is this machine ready for the window? One line per check."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.config import NO_VOICE, Settings
from app.storage.files import describe_os_error


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str        # what was found, or what to do


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout


def check_data_dir(settings: Settings) -> Check:
    d = settings.data_dir
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        return Check("数据目录", False,
                     f"{d} 不可写（{describe_os_error(exc)}）：请检查权限或设置 YICHUANG_HOME")
    usage = shutil.disk_usage(d)
    free_gb = usage.free / 2**30
    if free_gb < 1:
        return Check("数据目录", False, f"{d} 剩余空间仅 {free_gb:.1f} GB，请清理磁盘")
    return Check("数据目录", True, f"{d}（剩余 {free_gb:.0f} GB）")


def check_site(settings: Settings) -> Check:
    if settings.is_demo_site:
        return Check("站点", False, f"仍是演示站点编码 {settings.site_code}：请在 "
                     f"{settings.settings_path} 中填写本站点编码后再正式受理")
    return Check("站点", True, f"{settings.site_name}（{settings.site_code}），"
                 f"终端 {settings.terminal}，窗口 {settings.window}")


def check_authorities(settings: Settings, names: set[str]) -> Check:
    """Every 实施主体 of the catalogue registered in settings.toml, so a clerk never learns
    at the window that a notice cannot name its 复议机关 or seal."""
    missing = sorted(names - set(settings.authorities))
    if missing:
        more = f"等{len(missing)}个" if len(missing) > 3 else ""
        return Check("实施主体", False,
                     f"{'、'.join(missing[:3])}{more}未在 settings.toml 的 [authorities] 中登记"
                     "（复议机关、人民法院、受理专用章、文号前缀），这些事项不能作出受理决定")
    return Check("实施主体", True, f"事项目录的 {len(names)} 个实施主体均已登记")


def cjk_fonts_from_fontconfig() -> list[tuple[str, str, bool]] | None:
    """(family, file, embeddable) for fonts fontconfig says cover Simplified Chinese.

    ``:lang=zh-cn`` is fontconfig's own coverage test (the font has the glyphs of the
    language's orthography); only TrueType outlines can be embedded by reportlab.
    None when fontconfig is not available (Windows).
    """
    out = _run(["fc-list", ":lang=zh-cn", "file", "family", "fontformat"])
    if out is None:
        return None
    fonts: dict[str, tuple[str, str, bool]] = {}
    for line in out.splitlines():
        path, _, rest = line.partition(": ")
        family = rest.split(",")[0].split(":")[0].strip()
        if path and family and family not in fonts:
            fonts[family] = (family, path, "fontformat=TrueType" in rest)
    return sorted(fonts.values(), key=lambda f: (not f[2], f[0]))


def check_screen_fonts() -> Check:
    """Fonts the window draws Chinese with (fontconfig's own coverage test)."""
    covered = cjk_fonts_from_fontconfig()
    if covered is None:
        return Check("界面字体", True, "由系统提供（宋体、微软雅黑）")
    if not covered:
        return Check("界面字体", False, "没有覆盖简体中文的字体，界面会显示方框："
                     "sudo apt-get install fonts-wqy-microhei")
    names = "、".join(f[0] for f in covered[:4])
    return Check("界面字体", True, names)


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%".replace(".0%", "%")


def check_document_fonts(settings: Settings) -> Check:
    """The fonts printed documents embed, and how much of Chinese they cover."""
    from app.documents.fonts import FontError, font_set

    try:
        fonts = font_set(settings.fonts)
    except FontError as exc:
        return Check("文书字体", False, str(exc))
    cov = fonts.coverage()
    main = cov[0]
    detail = (f"主字体 {main.file}（GB2312 {_pct(main.gb2312)}，基本汉字 {_pct(main.unified)}，"
              f"扩展A {_pct(main.extension_a)}，扩展B {_pct(main.extension_b)}）")
    if len(cov) == 1:
        return Check("文书字体", False, detail + "；没有生僻字后备字体，部分姓名中的生僻字会印成“□”、"
                     "须手写补全：sudo apt-get install fonts-hanazono")
    backups = "、".join(f"{c.file}（扩展A {_pct(c.extension_a)}，扩展B {_pct(c.extension_b)}）"
                        for c in cov[1:])
    return Check("文书字体", True, f"{detail}；生僻字后备：{backups}")


def system_printers() -> list[str] | None:
    """CUPS queue names, or None where CUPS is not available."""
    out = _run(["lpstat", "-e"])
    return None if out is None else [ln.strip() for ln in out.splitlines() if ln.strip()]


def check_printers(settings: Settings) -> Check:
    from app.documents.form import DocumentKind
    from app.documents.targets import PrintTarget

    configured = {k: PrintTarget.parse(v) for k, v in settings.printers.items()}
    kinds = {k.value: k.display for k in DocumentKind}
    parts = [f"{kinds.get(k, {'a4': 'A4文书', 'thermal': '小票'}.get(k, k))}→{t.label}"
             for k, t in configured.items()]
    problems = []
    windows = sys.platform.startswith("win")
    queues = None if windows else system_printers()
    for t in configured.values():
        if t.scheme == "system" and t.address and queues is not None and queues \
                and t.address not in queues:
            problems.append(f"找不到打印机“{t.address}”")
    if not any(k in configured for k in ("thermal", "pickup-slip", "ticket")):
        parts.append("未配置热敏打印机（小票将无法打印，[printers] thermal）")
    if windows:
        parts.append("系统打印机由 Windows 管理")
    elif queues is None:
        parts.append("未安装 CUPS（命令行无法使用系统打印机，可用 escpos: 或在窗口中打印）")
    elif queues is not None:
        parts.append("系统打印机：" + ("、".join(queues) if queues else "无"))
    # Ready when there is some printer to print on: a system queue or a configured one.
    ok = not problems and (bool(queues) or bool(configured) or windows)
    return Check("打印机", ok, "；".join(problems + parts) or "未配置")


def check_capture_devices(settings: Settings) -> Check:
    """The scanners capture can use now (by the spec ``yichuang scan --source`` takes),
    the document cameras the system sees, and the scan folder."""
    from app.capture.source import SourceKind
    from app.capture.sources import discover

    name = "高拍仪/扫描仪"
    cameras = sorted(glob.glob("/dev/video*")) if sys.platform.startswith("linux") else []
    found = discover(settings)
    devices = [s for s in found.sources
               if s.kind in (SourceKind.SANE, SourceKind.ESCL, SourceKind.WIA)]
    parts = [f"{s.name}（{s.spec}）" for s in devices]
    if cameras:
        parts.append(f"摄像头 {len(cameras)} 个（高拍仪在窗口的扫描面板中选择）")
    problems = list(found.problems)
    if settings.scan_folder and not Path(settings.scan_folder).is_dir():
        problems.append(f"扫描文件夹 {settings.scan_folder} 不存在或无法访问"
                        "（[devices] scan_folder）")
    elif settings.scan_folder:
        parts.append(f"扫描文件夹 {settings.scan_folder}")
    if not devices and not cameras:
        problems.insert(0, "未发现摄像头或扫描仪：接好高拍仪（USB）或扫描仪，或安装 SANE；"
                        "仍可导入文件（JPEG、PNG、PDF）")
    return Check(name, not problems, "；".join(problems + parts))


def check_server(settings: Settings) -> Check:
    if settings.standalone:
        return Check("服务器", True, "未配置服务器：单机模式（数据只保存在本机）")
    import requests

    url = settings.server_url.rstrip("/") + "/v1/health"
    try:
        resp = requests.get(url, timeout=3)
    except requests.RequestException as exc:
        return Check("服务器", False, f"无法连接 {settings.server_url}（{type(exc).__name__}）："
                     "检查网络；断网期间可离线受理，恢复后自动同步")
    if resp.status_code != 200:
        return Check("服务器", False, f"{url} 返回 {resp.status_code}")
    return Check("服务器", True, f"{settings.server_url} 可连接")


# The hall display's voice is Qt's (QtTextToSpeech), which the core never imports: a
# child process asks it (ui/queue/voice.py) and prints one JSON line. Its own wait for an
# engine is 12 s (a hung speech-dispatcher); this is the limit on the whole child.
VOICE_PROBE = ("-m", "ui.queue.voice", "--probe")
VOICE_PROBE_S = 25.0
INSTALL_VOICE = ("在 Windows 上到“设置 → 时间和语言 → 语音”添加中文（简体）语音"
                 if sys.platform.startswith("win") else
                 "在 Debian/Ubuntu 上运行 ./run 安装 speech-dispatcher 与 espeak-ng（离线普通话语音）")


def check_voice(settings: Settings, *, timeout_s: float = VOICE_PROBE_S,
                command: Sequence[str] | None = None) -> Check:
    """Which engine and voice the hall display says the call with, or that it chimes.
    ``command`` replaces the probe's command line (tests)."""
    name, wanted = "叫号语音", settings.voice_engine
    if wanted.lower() == NO_VOICE:
        return Check(name, True, f'已设置为不播报（[voice] engine = "{NO_VOICE}"），叫号时只响提示音')
    argv = list(command) if command else [sys.executable, *VOICE_PROBE, f"--engine={wanted}"]
    try:
        found = json.loads(_probe(argv, timeout_s))
    except subprocess.TimeoutExpired:
        return Check(name, False, f"语音引擎{timeout_s:.0f}秒内没有响应（speech-dispatcher 可能卡住"
                     "或没有声音设备），叫号将只响提示音：重新启动电脑后再试")
    except (OSError, ValueError) as exc:   # no PySide6-Addons, a crash, no JSON
        return Check(name, False, f"无法检查语音引擎（{exc}），叫号将只响提示音：重新运行 ./run 安装")
    engine, voice = str(found.get("engine", "")), str(found.get("voice", ""))
    others = "、".join(map(str, found.get("engines", []))) or "无"
    if not engine:
        if not wanted and others == "无":
            return Check(name, False, f"没有语音引擎，叫号将只响提示音：{INSTALL_VOICE}")
        # The probe's own sentence: no Mandarin voice, a hung engine, a named one missing.
        fix = "请改正 settings.toml 的 [voice] engine，或留空自动选择" if wanted else ""
        return Check(name, False, f"{found.get('status', '')}{fix}")
    locale = str(found.get("locale", ""))
    # espeak-ng's voices come under the C locale: no news to the reader.
    said = f"{engine} · {voice}" + (f"（{locale}）" if locale not in ("", "C") else "")
    if not found.get("mandarin"):
        return Check(name, False, f"{said} 不是普通话语音，叫号读不准：{INSTALL_VOICE}，"
                     "或在 settings.toml 的 [voice] engine 中换一个引擎")
    return Check(name, True, f"{said}，普通话；已安装的引擎：{others}")


def _probe(argv: list[str], timeout_s: float) -> str:
    """The probe's last line of output; a probe that does not answer in ``timeout_s`` is
    killed with everything it started (an engine check of its own, a speech module)."""
    posix = os.name == "posix"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          encoding="utf-8", errors="replace", env=env,
                          start_new_session=posix) as child:
        try:
            out, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            if posix:
                os.killpg(child.pid, signal.SIGKILL)
            else:
                child.kill()
            child.communicate(timeout=5)   # the pipes close with the killed group
            raise
    lines = [line for line in out.splitlines() if line.strip()]
    if child.returncode != 0 or not lines:
        last = [line for line in err.splitlines() if line.strip()][-1:] or ["没有输出"]
        raise ValueError(f"退出状态 {child.returncode}：{last[0]}")
    return lines[-1]
