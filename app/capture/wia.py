"""WIA scanners (Windows), through the WIA 2.0 automation library (``WIA.DeviceManager``)
driven with pywin32's win32com.

The automation objects are imported inside the functions that use them, so the module
loads everywhere; on other systems :func:`wia_devices` finds nothing and a
:class:`WiaSource` says WIA is for Windows. What can be worked out without a device —
the document-handling flags, the nearest resolution a property offers, what a WIA error
code means for the clerk — is plain functions, tested on any system.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from app.capture.escl import decode_page
from app.capture.source import (
    Cancel,
    Capabilities,
    CaptureError,
    DeviceGone,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)

__all__ = ["WiaSource", "document_handling", "error_for", "hresult_of", "nearest_resolution",
           "wia_devices"]

NOT_WINDOWS = "WIA 仅适用于 Windows，请在本系统上使用 SANE 或网络扫描仪（eSCL）。"
_NO_PYWIN32 = "缺少 Windows 扫描组件 pywin32，请联系管理员安装（pip install pywin32）。"

SCANNER_DEVICE_TYPE = 1
WIA_FORMAT_PNG = "{B96B3CAF-0728-11D3-9D7B-0000F81EF32E}"

# Property ids (wiadef.h).
DOCUMENT_HANDLING_CAPABILITIES = 3086
DOCUMENT_HANDLING_STATUS = 3087
DOCUMENT_HANDLING_SELECT = 3088
PAGES = 3096
CURRENT_INTENT = 6146
HORIZONTAL_RESOLUTION = 6147
VERTICAL_RESOLUTION = 6148

# Flags of 3086 (capabilities) and 3088 (select).
FEED, FLAT, DUP = 0x01, 0x02, 0x04
FEEDER, FLATBED, DUPLEX = 0x01, 0x02, 0x04
# Flags of 3087 (status).
FEED_READY, FLAT_COVER_UP, PATH_COVER_UP, PAPER_JAM = 0x01, 0x08, 0x10, 0x20
INTENT_COLOUR, INTENT_GREY = 0x01, 0x02
SUBTYPE_RANGE, SUBTYPE_LIST = 1, 2

PAPER_EMPTY = 0x80210003
DISP_E_EXCEPTION = 0x80020009
_ERRORS: dict[int, tuple[str, bool]] = {
    0x80210002: ("扫描仪卡纸，请取出纸张后重扫。", False),
    PAPER_EMPTY: ("进纸器里没有纸，请放入材料后重扫。", False),
    0x80210004: ("扫描仪进纸出错，请把纸张理齐后重扫。", False),
    0x80210005: ("扫描仪已离线（可能已拔出或关机），请检查电源和数据线后重扫。", True),
    0x80210006: ("扫描仪正忙（可能另一个程序正在使用），请稍后重试。", False),
    0x80210007: ("扫描仪正在预热，请稍候再扫。", False),
    0x80210008: ("扫描仪需要人工处理，请查看扫描仪上的提示后重扫。", False),
    0x80210009: ("扫描仪已被移除，请重新连接后重扫。", True),
    0x8021000A: ("与扫描仪的通信中断，请检查数据线后重扫。", True),
    0x8021000D: ("扫描仪被锁定，请解锁后重扫。", False),
    0x80210015: ("找不到扫描仪，请检查是否已连接并开机。", True),
    0x80210016: ("扫描仪盖板未合上，请合上后重扫。", False),
    0x80210017: ("扫描仪灯管未亮，请检查扫描仪后重扫。", False),
}


def hresult_of(args: Sequence[Any]) -> int:
    """The WIA code in a pywin32 ``com_error``'s args: (hresult, text, excepinfo,
    argerror). Errors raised through IDispatch come as DISP_E_EXCEPTION with the real
    code in excepinfo's scode."""
    code = int(args[0]) & 0xFFFFFFFF if args else 0
    if code == DISP_E_EXCEPTION and len(args) > 2 and args[2] and len(args[2]) > 5:
        return int(args[2][5]) & 0xFFFFFFFF
    return code


def error_for(code: int, pages: int) -> CaptureError:
    kept = f"已扫描的 {pages} 页已保留。" if pages else ""
    message, gone = _ERRORS.get(
        code, (f"扫描失败（WIA 错误 0x{code:08X}），请检查扫描仪后重扫。", False))
    return (DeviceGone if gone else CaptureError)(message + kept)


def capabilities_from(handling: int, max_dpi: int, colour: bool = True) -> Capabilities:
    """Capabilities from property 3086 (0 when the device has no such property: a
    plain flatbed)."""
    if handling == 0:
        handling = FLAT
    return Capabilities(flatbed=bool(handling & FLAT), feeder=bool(handling & FEED),
                        duplex=bool(handling & DUP) and bool(handling & FEED),
                        colour=colour, max_dpi=max_dpi)


def document_handling(settings: ScanSettings, capabilities: Capabilities) -> int:
    """The value for property 3088, or a clear CaptureError."""
    if settings.duplex and not settings.feeder:
        raise CaptureError("双面扫描只能用自动进纸器，请选择进纸器扫描。")
    if settings.feeder and not capabilities.feeder:
        raise CaptureError("这台扫描仪没有自动进纸器，请把材料逐页放在玻璃板上扫描。")
    if settings.duplex and not capabilities.duplex:
        raise CaptureError("这台扫描仪不能双面扫描，请改用单面扫描，或翻面后再扫一次。")
    if not settings.feeder and not capabilities.flatbed:
        raise CaptureError("这台扫描仪没有玻璃板，请把材料放入自动进纸器扫描。")
    if settings.duplex:
        return FEEDER | DUPLEX
    return FEEDER if settings.feeder else FLATBED


def nearest_resolution(dpi: int, subtype: int, minimum: int = 0, maximum: int = 0,
                       step: int = 0, values: Sequence[int] = ()) -> int:
    """The lowest resolution a WIA property offers at or above ``dpi`` (archival
    minimums are minimums), else the highest; ``dpi`` itself if it says nothing."""
    if subtype == SUBTYPE_LIST and values:
        offered = sorted(int(v) for v in values)
        return next((v for v in offered if v >= dpi), offered[-1])
    if subtype == SUBTYPE_RANGE and maximum >= minimum > 0:
        wanted = min(max(dpi, minimum), maximum)
        if step > 0:
            wanted = min(minimum + -(-(wanted - minimum) // step) * step, maximum)
        return wanted
    return dpi


def status_problem(status: int) -> CaptureError | None:
    """What property 3087 says stops a feeder scan before it starts."""
    if status & PAPER_JAM:
        return CaptureError("扫描仪卡纸，请取出纸张后重扫。")
    if status & (FLAT_COVER_UP | PATH_COVER_UP):
        return CaptureError("扫描仪盖板未合上，请合上后重扫。")
    return None


# ---------------------------------------------------------------- Windows only


def _automation() -> Any:
    if sys.platform != "win32":
        raise CaptureError(NOT_WINDOWS)
    try:
        client = importlib.import_module("win32com.client")
        return client.Dispatch("WIA.DeviceManager")
    except ImportError as error:
        raise CaptureError(_NO_PYWIN32) from error
    except Exception as error:   # pywintypes.com_error: the WIA service is not running
        raise CaptureError("Windows 图像采集服务（WIA）不可用，请在“服务”中启动 stisvc 后重试。") from error


def _property(properties: Any, pid: int) -> Any | None:
    for prop in properties:
        if int(prop.PropertyID) == pid:
            return prop
    return None


def _value(properties: Any, pid: int, default: int = 0) -> int:
    prop = _property(properties, pid)
    return int(prop.Value) if prop is not None else default


def _set(properties: Any, pid: int, value: int) -> None:
    prop = _property(properties, pid)
    if prop is not None and not prop.IsReadOnly:
        prop.Value = value


def _resolution(properties: Any, dpi: int) -> int:
    prop = _property(properties, HORIZONTAL_RESOLUTION)
    if prop is None:
        return dpi
    subtype = int(prop.SubType)
    if subtype == SUBTYPE_LIST:
        return nearest_resolution(dpi, subtype, values=[int(v) for v in prop.SubTypeValues])
    if subtype == SUBTYPE_RANGE:
        return nearest_resolution(dpi, subtype, int(prop.SubTypeMin), int(prop.SubTypeMax),
                                  int(prop.SubTypeStep))
    return dpi


def _com_code(error: Exception) -> int | None:
    return hresult_of(error.args) if type(error).__name__ == "com_error" else None


class WiaSource:
    """One WIA scanner by its DeviceID (``wia:{6BDD1FC6-…}\\0000``)."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self._info: SourceInfo | None = None

    def _connect(self) -> Any:
        manager = _automation()
        for number in range(1, int(manager.DeviceInfos.Count) + 1):
            info = manager.DeviceInfos.Item(number)
            if str(info.DeviceID) == self.device_id:
                try:
                    return info.Connect()
                except Exception as error:
                    code = _com_code(error)
                    if code is None:
                        raise
                    raise error_for(code, 0) from error
        raise CaptureError(f"找不到扫描仪 {self.device_id}，请检查是否已连接并开机。")

    @property
    def info(self) -> SourceInfo:
        if self._info is None:
            self._info = _describe(self._connect(), self.device_id)
        return self._info

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        cancel.check()
        device = self._connect()
        info = self._info = _describe(device, self.device_id)
        _set(device.Properties, DOCUMENT_HANDLING_SELECT,
             document_handling(settings, info.capabilities))
        _set(device.Properties, PAGES, 1)   # one page per Transfer: each reaches the clerk
        if settings.feeder and (problem := status_problem(
                _value(device.Properties, DOCUMENT_HANDLING_STATUS))):
            raise problem
        item = device.Items.Item(1)
        # The intent first: setting it resets the resolution to the driver's default.
        _set(item.Properties, CURRENT_INTENT, INTENT_COLOUR if settings.colour else INTENT_GREY)
        dpi = _resolution(item.Properties, settings.dpi)
        _set(item.Properties, HORIZONTAL_RESOLUTION, dpi)
        _set(item.Properties, VERTICAL_RESOLUTION, dpi)
        pages = 0
        while True:
            cancel.check()
            progress(f"正在扫描第 {pages + 1} 页…")
            try:
                image = item.Transfer(WIA_FORMAT_PNG)
            except Exception as error:
                code = _com_code(error)
                if code is None:
                    raise
                if code == PAPER_EMPTY and settings.feeder and pages > 0:
                    return
                raise error_for(code, pages) from error
            pages += 1
            pixels = decode_page(bytes(image.FileData.BinaryData), pages)
            reported = int(getattr(image, "HorizontalResolution", 0) or 0)
            yield RawPage(pixels, reported or dpi, f"{info.name} 第{pages}页")
            if not settings.feeder:
                return


def _describe(device: Any, device_id: str) -> SourceInfo:
    props = device.Properties
    name_prop = _property(props, 7)           # WIA_DIP_DEV_NAME
    name = str(name_prop.Value) if name_prop is not None else device_id
    item = device.Items.Item(1)
    resolution = _property(item.Properties, HORIZONTAL_RESOLUTION)
    max_dpi = 600
    if resolution is not None and int(resolution.SubType) == SUBTYPE_LIST:
        max_dpi = max(int(v) for v in resolution.SubTypeValues)
    elif resolution is not None and int(resolution.SubType) == SUBTYPE_RANGE:
        max_dpi = int(resolution.SubTypeMax)
    caps = capabilities_from(_value(props, DOCUMENT_HANDLING_CAPABILITIES), max_dpi)
    return SourceInfo(f"wia:{device_id}", SourceKind.WIA, f"扫描仪 {name}", caps)


def wia_devices() -> list[SourceInfo]:
    """The WIA scanners attached now; [] on systems without WIA."""
    if sys.platform != "win32":
        return []
    try:
        manager = _automation()
    except CaptureError:
        return []
    found = []
    for number in range(1, int(manager.DeviceInfos.Count) + 1):
        info = manager.DeviceInfos.Item(number)
        if int(info.Type) != SCANNER_DEVICE_TYPE:
            continue
        device_id = str(info.DeviceID)
        try:
            found.append(_describe(info.Connect(), device_id))
        except Exception:   # busy or unplugged since it was listed: still show it
            found.append(SourceInfo(f"wia:{device_id}", SourceKind.WIA,
                                    f"扫描仪 {device_id}（暂时无法打开）", Capabilities(colour=False)))
    return found
