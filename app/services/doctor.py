"""``yichuang doctor``: is this machine ready for the window? One line per check."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.storage.files import describe_os_error

# TrueType CJK fonts that reportlab can embed (it cannot embed CFF/OTF such as Noto CJK).
_CJK_TTF_NAMES = ("wqy-zenhei.ttc", "wqy-microhei.ttc", "simsun.ttc", "simhei.ttf",
                  "msyh.ttc", "msyh.ttf", "simkai.ttf", "simfang.ttf")
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
              str(Path.home() / ".local/share/fonts"), r"C:\Windows\Fonts")


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


def find_cjk_fonts() -> list[Path]:
    found: list[Path] = []
    for base in _FONT_DIRS:
        if not os.path.isdir(base):
            continue
        for name in _CJK_TTF_NAMES:
            found += [Path(p) for p in glob.glob(os.path.join(base, "**", name), recursive=True)]
    return sorted(set(found))


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


def check_fonts() -> Check:
    hint = ("sudo apt-get install fonts-wqy-zenhei" if sys.platform.startswith("linux")
            else "安装宋体或微软雅黑")
    covered = cjk_fonts_from_fontconfig()
    if covered is not None:
        embeddable = [f for f in covered if f[2]]
        if not embeddable:
            others = "、".join(f[0] for f in covered) or "无"
            return Check("中文字体", False, f"没有覆盖简体中文的 TrueType 字体（现有：{others}，"
                         f"PDF 无法嵌入）：{hint}")
        names = "、".join(f[0] for f in embeddable[:4])
        screen_only = len(covered) - len(embeddable)
        extra = f"；另有 {screen_only} 个仅供屏幕显示" if screen_only else ""
        return Check("中文字体", True, f"覆盖简体中文且可嵌入PDF：{names}{extra}")
    fonts = find_cjk_fonts()
    if fonts:
        names = "、".join(p.name for p in fonts[:3])
        return Check("中文字体", True, f"{names}（TrueType，可嵌入PDF）")
    return Check("中文字体", False, f"未找到可嵌入的中文 TrueType 字体：{hint}")


def check_printers() -> Check:
    if sys.platform.startswith("win"):
        return Check("打印机", True, "由 Windows 打印系统管理（打印时选择）")
    out = _run(["lpstat", "-e"])
    if out is None:
        return Check("打印机", False, "未安装 CUPS（lpstat）：安装 cups 后添加打印机")
    names = [line.strip() for line in out.splitlines() if line.strip()]
    if not names:
        return Check("打印机", False, "CUPS 中没有打印机：请在系统设置中添加A4和热敏打印机")
    return Check("打印机", True, "、".join(names))


def check_capture_devices() -> Check:
    cameras = sorted(glob.glob("/dev/video*")) if sys.platform.startswith("linux") else []
    scanners: list[str] = []
    out = _run(["scanimage", "-L"], timeout=10)
    if out:
        scanners = [line for line in out.splitlines() if line.startswith("device")]
    if not cameras and not scanners:
        return Check("高拍仪/扫描仪", False, "未发现摄像头或扫描仪：接好高拍仪（USB）或安装 SANE")
    parts = []
    if cameras:
        parts.append(f"摄像头 {len(cameras)} 个")
    if scanners:
        parts.append(f"扫描仪 {len(scanners)} 台")
    return Check("高拍仪/扫描仪", True, "，".join(parts))


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
