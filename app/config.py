"""Settings of one installation: where the data lives, which site/terminal/window it is.

The data directory comes from platformdirs (``YICHUANG_HOME`` overrides it) and holds
``settings.toml``, the database and the attachment store. A missing settings file is
created with demo values on first start; a broken one raises :class:`ConfigError` whose
message names the key and what is wrong.
"""

from __future__ import annotations

import os
import string
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from app.documents.form import DocumentKind
from app.documents.targets import PrintTarget
from app.domain.catalogue import LimitUnit, TimeLimit
from app.domain.notice import DEFAULT_CORRECTION_LIMIT, AuthoritySettings, NoticeSettings
from app.domain.numbering import CaseNumberError, check_site_code, check_terminal
from app.domain.queue import WINDOW_RE
from app.errors import UserError
from app.storage.files import FileWriteError, describe_os_error, write_atomically

SETTINGS_FILE = "settings.toml"
DATABASE_FILE = "yichuang.db"
DEMO_SITE_CODE = "330100001"
QUEUE_MODES = ("local", "site")
THERMAL_DOTS = (384, 512, 576, 640, 832)
PRINTER_KEYS = ("a4", "thermal", *(k.value for k in DocumentKind))
THERMAL_KEYS = ("thermal", *(k.value for k in DocumentKind if k.thermal))


# The demo catalogue's 实施主体, as a county would register them at a township centre:
# county departments entrust the centre's 综合窗口; the town government and the village
# committee act through their own seal. Vertically managed services (烟草, 税务) are
# reviewed by the authority one level up, the others by the county government
# (行政复议法 2023 第二十四条、第二十七条).
_COUNTY, _COURT = "示例县人民政府", "示例县人民法院"
DEMO_AUTHORITIES: dict[str, AuthoritySettings] = {
    a.name: a for a in (
        AuthoritySettings("示例县市场监督管理局", _COUNTY, _COURT, prefix="城关市监受",
                          entrusted=True),
        AuthoritySettings("示例县烟草专卖局", "示例市烟草专卖局", _COURT, prefix="城关烟专受",
                          entrusted=True),
        AuthoritySettings("国家税务总局示例县税务局", "国家税务总局示例市税务局", _COURT,
                          prefix="城关税受", entrusted=True),
        *(AuthoritySettings(f"示例县{name}", _COUNTY, _COURT, prefix=f"城关{short}受",
                            entrusted=True)
          for name, short in (("医疗保障局", "医保"), ("公安局", "公安"),
                              ("人力资源和社会保障局", "人社"), ("民政局", "民政"),
                              ("残疾人联合会", "残联"), ("农业农村局", "农业"),
                              ("住房和城乡建设局", "住建"), ("卫生健康局", "卫健"),
                              ("退役军人事务局", "退役"), ("教育局", "教育"))),
        AuthoritySettings("示例县城关镇人民政府", _COUNTY, _COURT,
                          seal="示例县城关镇人民政府便民服务专用章", prefix="城关镇受"),
        AuthoritySettings("示例县城关镇东风村村民委员会", "示例县城关镇人民政府", _COURT,
                          seal="示例县城关镇东风村村民委员会", prefix="东风村受",
                          administrative=False),
    )}
AUTHORITY_KEYS = frozenset({"review", "court", "seal", "prefix", "entrusted", "administrative"})

# The hall: the display's scrolling notice ("" shows none) and the spoken call.
DEFAULT_NOTICE = ("请留意屏幕叫号和语音提示，叫到您的号码时请到对应窗口办理；"
                  "过号请到咨询台重新排队。办事请带齐材料，如有疑问请咨询导办人员。")
CALL_TEMPLATE = "请{number}号到{window}号窗口办理"
CALL_REPEAT, MAX_CALL_REPEAT = 2, 5
NO_VOICE = "none"    # [voice] engine: chime only
BAD_REPEAT = f"settings.toml：[voice] repeat 应为1至{MAX_CALL_REPEAT}的整数（每次叫号播报几遍）"


class ConfigError(UserError, ValueError):
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
    # The folder an ID-card reader's program writes each card read into (wz.txt, …); the
    # applicant form takes and then deletes them. Empty: no folder is watched.
    id_card_folder: str = ""
    # Capture (app.capture.sources): the source the scan panel starts with (a spec such
    # as "sane:fujitsu:fi-7160:1234"; empty: the first found), the folder a network
    # scanner's "scan to folder" writes into, and eSCL scanners' addresses (they are
    # found by mDNS on most networks, but a county's VLANs often block it).
    scanner: str = ""
    scan_folder: str = ""
    escl_scanners: tuple[str, ...] = ()
    # The legal frame of notices: the site's 受理专用章, the default 补正期限, and per
    # 实施主体 its 复议机关, court, seal, 文号 prefix and whether it entrusts this window.
    site_seal: str = ""
    correction_limit: TimeLimit = DEFAULT_CORRECTION_LIMIT
    authorities: dict[str, AuthoritySettings] = field(
        default_factory=lambda: dict(DEMO_AUTHORITIES))
    display_notice: str = DEFAULT_NOTICE
    # "" the first installed engine with a Mandarin voice; "none" the chime only; or a
    # QtTextToSpeech engine's name (speechd, sapi, winrt …).
    voice_engine: str = ""
    call_template: str = CALL_TEMPLATE
    call_repeat: int = CALL_REPEAT

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def settings_path(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    @property
    def notices(self) -> NoticeSettings:
        return NoticeSettings(self.site_name, self.site_seal, self.correction_limit,
                              dict(self.authorities))

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
        "devices": {"id_card_folder": s.id_card_folder, "scanner": s.scanner,
                    "scan_folder": s.scan_folder, "escl": list(s.escl_scanners)},
        "display": {"notice": s.display_notice},
        "voice": {"engine": s.voice_engine, "template": s.call_template,
                  "repeat": s.call_repeat},
        "notices": {"seal": s.site_seal, "correction_limit": s.correction_limit.value,
                    "correction_unit": str(s.correction_limit.unit)},
        "authorities": {a.name: {"review": a.review, "court": a.court, "seal": a.seal,
                                 "prefix": a.prefix, "entrusted": a.entrusted,
                                 "administrative": a.administrative}
                        for a in s.authorities.values()},
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
    backup, devices = _section(doc, "backup"), _section(doc, "devices")
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
                       backup_dir=_str(backup, "backup", "dir", ""), backup_keep=keep,
                       id_card_folder=_str(devices, "devices", "id_card_folder", ""),
                       scanner=_str(devices, "devices", "scanner", ""),
                       scan_folder=_str(devices, "devices", "scan_folder", ""),
                       escl_scanners=_escl(devices))
    notices = _section(doc, "notices")
    settings = replace(settings, site_seal=_str(notices, "notices", "seal", ""),
                       correction_limit=_correction_limit(notices, defaults.correction_limit))
    settings = _hall(settings, _section(doc, "display"), _section(doc, "voice"))
    if "authorities" in doc:
        settings = replace(settings, authorities=_authorities(_section(doc, "authorities")))
    elif not settings.is_demo_site:
        # A file from before notices had a legal frame: a real site gets no demo
        # authorities (示例县人民政府 must never be named as its 复议机关); decisions and
        # doctor say which [authorities] sections to add.
        settings = replace(settings, authorities={})
    return validate_settings(settings)


def _escl(devices: dict[str, Any]) -> tuple[str, ...]:
    urls = devices.get("escl", [])
    if not isinstance(urls, list) or not all(
            isinstance(u, str) and u.strip().startswith(("http://", "https://")) for u in urls):
        raise ConfigError("settings.toml：[devices] escl 应为扫描仪地址的列表，"
                          "如 [\"http://192.168.1.20/eSCL\"]")
    return tuple(u.strip().rstrip("/") for u in urls)


def _hall(settings: Settings, display: dict[str, Any], voice: dict[str, Any]) -> Settings:
    # A notice written over several lines in the file scrolls as one line.
    notice = " ".join(_str(display, "display", "notice", DEFAULT_NOTICE).split())
    repeat = voice.get("repeat", CALL_REPEAT)
    if isinstance(repeat, bool) or not isinstance(repeat, int):
        raise ConfigError(BAD_REPEAT)   # the range is validate_settings' to check
    return replace(settings, display_notice=notice,
                   voice_engine=_str(voice, "voice", "engine", ""),
                   call_template=_str(voice, "voice", "template", CALL_TEMPLATE),
                   call_repeat=repeat)


def check_call_template(template: str) -> str:
    """The template, if it names only ``{number}`` and ``{window}`` (both required);
    ValueError with a Chinese message otherwise."""
    try:
        parsed = [(name, spec, conversion) for _, name, spec, conversion
                  in string.Formatter().parse(template) if name is not None]
    except ValueError:
        raise ValueError(f"叫号语音模板“{template}”的花括号不成对。") from None
    if any(spec or conversion for _, spec, conversion in parsed):
        # {number:x} fails at the first call; {number:>999999999} builds a gigabyte.
        raise ValueError(f"叫号语音模板“{template}”中的 {{number}} 和 {{window}} "
                         "不能带格式说明（冒号或感叹号）。")
    fields = {name for name, _, _ in parsed}
    if fields != {"number", "window"}:
        raise ValueError(f"叫号语音模板“{template}”应包含且只包含 {{number}} 和 {{window}}，"
                         f"例如“{CALL_TEMPLATE}”。")
    return template


def _check_hall(s: Settings) -> None:
    try:
        check_call_template(s.call_template)
    except ValueError as exc:
        raise ConfigError(f"settings.toml：[voice] template {exc}") from exc
    if not 1 <= s.call_repeat <= MAX_CALL_REPEAT:
        raise ConfigError(BAD_REPEAT)
    # An engine's name as QtTextToSpeech lists it; anything else names no engine.
    if s.voice_engine and not all(c.isascii() and (c.isalnum() or c in "-_.")
                                  for c in s.voice_engine):
        raise ConfigError(f"settings.toml：[voice] engine “{s.voice_engine}”不是语音引擎名称："
                          f"留空自动选择普通话语音，填 {NO_VOICE} 只响提示音，或填引擎名"
                          "（如 speechd、sapi）")


def _correction_limit(notices: dict[str, Any], default: TimeLimit) -> TimeLimit:
    value = notices.get("correction_limit", default.value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
        raise ConfigError("settings.toml：[notices] correction_limit 应为1至365的整数（补正期限天数）")
    unit = _str(notices, "notices", "correction_unit", str(default.unit))
    if unit not in {str(u) for u in LimitUnit}:
        raise ConfigError("settings.toml：[notices] correction_unit 应为“工作日”或“自然日”")
    return TimeLimit(value, LimitUnit(unit))


def _authorities(section: dict[str, Any]) -> dict[str, AuthoritySettings]:
    found: dict[str, AuthoritySettings] = {}
    for name, entry in section.items():
        sec = f'authorities."{name}"'
        if not str(name).strip():
            raise ConfigError("settings.toml：[authorities.\"\"] 缺少实施主体名称："
                              "引号中应填事项目录里的实施主体全称")
        if str(name).strip() in found:
            raise ConfigError(f"settings.toml：实施主体“{str(name).strip()}”登记了两次（[{sec}]）")
        if not isinstance(entry, dict):
            raise ConfigError(f"settings.toml：[{sec}] 应为一个节，含 review、court 等")
        unknown = sorted(set(entry) - AUTHORITY_KEYS)
        if unknown:
            raise ConfigError(f"settings.toml：[{sec}] 中的“{unknown[0]}”无法识别，可用："
                              + "、".join(sorted(AUTHORITY_KEYS)))
        flags = {key: entry.get(key, default) for key, default in
                 (("entrusted", False), ("administrative", True))}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ConfigError(f"settings.toml：[{sec}] {key} 应为 true 或 false")
        authority = AuthoritySettings(
            str(name).strip(), _str(entry, sec, "review", ""), _str(entry, sec, "court", ""),
            _str(entry, sec, "seal", ""), _str(entry, sec, "prefix", ""), flags["entrusted"],
            flags["administrative"])
        found[authority.name] = authority
    return found


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
    if not WINDOW_RE.fullmatch(s.window):   # it names files (drafts) and queue rows
        raise ConfigError("settings.toml：[terminal] window 应为1至8位字母、数字或汉字的窗口号")
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
    if s.id_card_folder:
        # Card files there are read and deleted: never where the program keeps its own.
        # Resolved: a link pointing at the data directory is the data directory.
        home = s.data_dir.expanduser().resolve()
        place = Path(s.id_card_folder).expanduser().resolve()
        if place == home or home in place.parents or place in home.parents:
            raise ConfigError("settings.toml：[devices] id_card_folder 不能是数据目录或其上下级目录："
                              "请填身份证阅读器软件保存读卡文件的目录")
    _check_authorities(s.authorities)
    _check_hall(s)
    if s.server_url and not s.server_url.startswith(("http://", "https://")):
        raise ConfigError("settings.toml：[server] url 应以 http:// 或 https:// 开头")
    return s


def _check_authorities(authorities: dict[str, AuthoritySettings]) -> None:
    """What a notice needs of each 实施主体; a 文号 prefix used twice would print the same
    number for two authorities."""
    prefixes: dict[str, str] = {}
    for authority in authorities.values():
        sec = f'authorities."{authority.name}"'
        if not authority.name.strip():
            raise ConfigError("settings.toml：[authorities.\"\"] 缺少实施主体名称："
                              "引号中应填事项目录里的实施主体全称")
        for key, value in (("review", authority.review), ("court", authority.court)):
            if not value:
                raise ConfigError(f"settings.toml：[{sec}] {key} 不能为空：不予受理决定书须写明"
                                  + ("复议机关" if key == "review" else "有管辖权的人民法院"))
        if not authority.prefix:
            raise ConfigError(f"settings.toml：[{sec}] prefix 不能为空：文号前缀（如“城关烟专受”）"
                              "区分各实施主体的文号，本县各站点也应各不相同")
        if any(c in authority.prefix for c in "〔〕[]第号") or any(
                not c.isprintable() or c.isspace() for c in authority.prefix):
            raise ConfigError(f"settings.toml：[{sec}] prefix 只填文号的字（如“城关烟专受”），"
                              "不含空格，年份和序号由程序编写")
        if authority.prefix in prefixes:
            raise ConfigError(f"settings.toml：[{sec}] 的文号前缀“{authority.prefix}”与"
                              f"“{prefixes[authority.prefix]}”相同：文号会重复，请各设一个")
        prefixes[authority.prefix] = authority.name


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
