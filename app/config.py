"""Settings of one installation: where the data lives, which site/terminal/window it is.

The data directory comes from platformdirs (``YICHUANG_HOME`` overrides it) and holds
``settings.toml``, the database and the attachment store. A missing settings file is
created with demo values on first start; a broken one raises :class:`ConfigError` whose
message names the key and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from app.documents.form import DocumentKind
from app.documents.targets import PrintTarget
from app.domain.numbering import CaseNumberError, check_site_code, check_terminal
from app.storage.files import FileWriteError, describe_os_error, write_atomically

SETTINGS_FILE = "settings.toml"
DATABASE_FILE = "yichuang.db"
DEMO_SITE_CODE = "330100001"
QUEUE_MODES = ("local", "site")
THERMAL_DOTS = (384, 512, 576, 640, 832)
PRINTER_KEYS = ("a4", "thermal", *(k.value for k in DocumentKind))
THERMAL_KEYS = ("thermal", *(k.value for k in DocumentKind if k.thermal))


class ConfigError(ValueError):
    """settings.toml is unreadable or holds a bad value; the message says which."""


def data_dir() -> Path:
    override = os.environ.get("YICHUANG_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("yichuang", appauthor=False))


def resources_dir() -> Path:
    """The read-only resources shipped with the program (demo catalogue, icons)."""
    override = os.environ.get("YICHUANG_RESOURCES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "resources"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    site_code: str = DEMO_SITE_CODE
    site_name: str = "示例县城关镇便民服务中心"
    terminal: str = "01"
    window: str = "1"
    server_url: str = ""
    queue_mode: str = "local"
    yellow_warning_days: int = 2
    # Printer per document kind ("acceptance") or paper ("a4", "thermal"); see
    # app.documents.targets for the target strings.
    printers: dict[str, str] = field(default_factory=dict)
    thermal_dots: int = 576            # 80 mm paper; 384 for 58 mm
    thermal_text_mode: bool = False    # GB18030 text instead of one raster image
    fonts: tuple[str, ...] = ()        # font files for documents: main first, then fallbacks
    backup_dir: str = ""               # daily automatic backup (a USB disk or a share)
    backup_keep: int = 14              # how many daily backups of this terminal to keep

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def settings_path(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    @property
    def is_demo_site(self) -> bool:
        return self.site_code == DEMO_SITE_CODE

    @property
    def standalone(self) -> bool:
        return not self.server_url


def _to_toml(s: Settings) -> dict[str, Any]:
    return {
        "site": {"code": s.site_code, "name": s.site_name},
        "terminal": {"number": s.terminal, "window": s.window},
        "server": {"url": s.server_url},
        "queue": {"mode": s.queue_mode},
        "deadlines": {"yellow_warning_days": s.yellow_warning_days},
        "printers": dict(s.printers),
        "thermal": {"dots": s.thermal_dots, "text_mode": s.thermal_text_mode},
        "fonts": {"files": list(s.fonts)},
        "backup": {"dir": s.backup_dir, "keep": s.backup_keep},
    }


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"settings.toml：[{name}] 应为一个节（section）")
    return value


def _str(section: dict[str, Any], sec: str, key: str, default: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"settings.toml：[{sec}] {key} 应为文本（加引号）")
    return value.strip()


def load_settings(directory: Path | None = None) -> Settings:
    """Read settings.toml from the data dir, creating it with defaults if absent."""
    base = directory or data_dir()
    defaults = Settings(data_dir=base)
    path = defaults.settings_path
    if not path.exists():
        save_settings(defaults)
        return defaults
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取 {path}：{exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} 格式错误：{exc}") from exc
    site, term = _section(doc, "site"), _section(doc, "terminal")
    server, queue = _section(doc, "server"), _section(doc, "queue")
    deadlines, printers = _section(doc, "deadlines"), _section(doc, "printers")
    thermal, fonts = _section(doc, "thermal"), _section(doc, "fonts")
    backup = _section(doc, "backup")
    settings = replace(
        defaults,
        site_code=_str(site, "site", "code", defaults.site_code),
        site_name=_str(site, "site", "name", defaults.site_name),
        terminal=_str(term, "terminal", "number", defaults.terminal),
        window=_str(term, "terminal", "window", defaults.window),
        server_url=_str(server, "server", "url", ""),
        queue_mode=_str(queue, "queue", "mode", defaults.queue_mode),
        printers={str(k): str(v) for k, v in printers.items()},
    )
    yellow = deadlines.get("yellow_warning_days", defaults.yellow_warning_days)
    if isinstance(yellow, bool) or not isinstance(yellow, int) or not 0 <= yellow <= 30:
        raise ConfigError("settings.toml：[deadlines] yellow_warning_days 应为0至30的整数")
    dots = thermal.get("dots", defaults.thermal_dots)
    if isinstance(dots, bool) or not isinstance(dots, int) or dots not in THERMAL_DOTS:
        raise ConfigError("settings.toml：[thermal] dots 应为 576（80毫米纸）或 384（58毫米纸）等"
                          f"打印头点数：{'、'.join(map(str, THERMAL_DOTS))}")
    text_mode = thermal.get("text_mode", False)
    if not isinstance(text_mode, bool):
        raise ConfigError("settings.toml：[thermal] text_mode 应为 true 或 false")
    files = fonts.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ConfigError("settings.toml：[fonts] files 应为字体文件路径的列表，如 [\"/path/a.ttf\"]")
    keep = backup.get("keep", defaults.backup_keep)
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 3650:
        raise ConfigError("settings.toml：[backup] keep 应为1至3650的整数（保留的备份份数）")
    settings = replace(settings, yellow_warning_days=yellow, thermal_dots=dots,
                       thermal_text_mode=text_mode, fonts=tuple(files),
                       backup_dir=_str(backup, "backup", "dir", ""), backup_keep=keep)
    return validate_settings(settings)


def validate_settings(s: Settings) -> Settings:
    try:
        check_site_code(s.site_code)
    except CaseNumberError as exc:
        raise ConfigError(f"settings.toml：[site] code {exc}") from exc
    try:
        check_terminal(s.terminal)
    except CaseNumberError as exc:
        raise ConfigError(f"settings.toml：[terminal] number {exc}") from exc
    if not s.site_name:
        raise ConfigError("settings.toml：[site] name 不能为空")
    if not s.window or len(s.window) > 8:
        raise ConfigError("settings.toml：[terminal] window 应为1至8个字符的窗口号")
    if s.queue_mode not in QUEUE_MODES:
        raise ConfigError("settings.toml：[queue] mode 应为 local 或 site")
    for key, value in s.printers.items():
        if key not in PRINTER_KEYS:
            raise ConfigError(f"settings.toml：[printers] 中的“{key}”不是文书种类，可用："
                              + "、".join(PRINTER_KEYS))
        try:
            target = PrintTarget.parse(value)
        except ValueError as exc:
            raise ConfigError(f"settings.toml：[printers] {key}：{exc}") from exc
        if target.scheme == "escpos" and key not in THERMAL_KEYS:
            raise ConfigError(f"settings.toml：[printers] {key} 是A4文书，不能用热敏打印机"
                              f"（{value}）：请改为 system:打印机名称")
    if s.backup_dir:
        home, place = s.data_dir.expanduser().absolute(), Path(s.backup_dir).expanduser().absolute()
        if place == home or home in place.parents:
            raise ConfigError("settings.toml：[backup] dir 不能在数据目录里面：请填另一块磁盘或U盘上的目录")
    if s.server_url and not s.server_url.startswith(("http://", "https://")):
        raise ConfigError("settings.toml：[server] url 应以 http:// 或 https:// 开头")
    return s


def save_settings(s: Settings) -> None:
    """Write settings.toml atomically (temp file + rename)."""
    validate_settings(s)
    try:
        s.data_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(s.settings_path,
                         "# 一窗通设置 (yichuang settings)\n" + tomli_w.dumps(_to_toml(s)))
    except FileWriteError as exc:
        raise ConfigError(f"{exc}（数据目录 {s.data_dir}，可用 YICHUANG_HOME 指定别处）") from exc
    except OSError as exc:
        raise ConfigError(f"无法使用数据目录 {s.data_dir}：{describe_os_error(exc)}"
                          "（可用 YICHUANG_HOME 指定别处）") from exc
