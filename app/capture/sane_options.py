"""What ``scanimage -d DEV -A`` and ``scanimage -f`` print, read into the options a
document scan needs. Each device names its options its own way (``--source "ADF
Duplex"``, ``Automatic Document Feeder``, ``--mode 彩色`` …): the words below find them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.capture.source import Capabilities, CaptureError, ScanSettings

_OPTION_LINE = re.compile(r"^ {4}(?P<name>-{1,2}[\w-]+)(?P<bool>\[=\([^)]*\)\])?\s*(?P<rest>.*)$")
_RANGE = re.compile(r"^(?P<lo>-?[\d.]+)\.\.(?P<hi>-?[\d.]+)[a-z%]*(?:,\.\.\.)?"
                    r"(?: \(in steps of (?P<step>[\d.]+)\))?$")
_UNIT = re.compile(r"(?<=\d)(?:dpi|mm|pel|bit|us|%)$")


_COLOUR_WORDS = ("color", "colour", "rgb", "彩色")
_GREY_WORDS = ("gray", "grey", "灰度", "灰阶")
_LINEART_WORDS = ("lineart", "binary", "halftone", "黑白", "二值")
_FEEDER_WORDS = ("adf", "feeder", "进纸", "输稿", "送稿")
_DUPLEX_WORDS = ("duplex", "双面")
_FLATBED_WORDS = ("flatbed", "platen", "document table", "平板")


# ---------------------------------------------------------------- what -A says


@dataclass(frozen=True, slots=True)
class DeviceOptions:
    """The options of one device that matter for a document scan, as it names them."""

    modes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    resolutions: tuple[int, ...] = ()               # a list the device offers …
    resolution_range: tuple[float, float, float] | None = None   # … or (min, max, step)
    duplex_switch: tuple[str, str] | None = None    # ("--duplex", "yes"), ("--adf-mode", "Duplex")

    def capabilities(self) -> Capabilities:
        feeder = any(_is_feeder(s) for s in self.sources)
        flatbed = not self.sources or any(_has(s, _FLATBED_WORDS) for s in self.sources)
        duplex = any(_has(s, _DUPLEX_WORDS) for s in self.sources) or (
            feeder and self.duplex_switch is not None)
        colour = not self.modes or any(_has(m, _COLOUR_WORDS) for m in self.modes)
        return Capabilities(flatbed=flatbed, feeder=feeder, duplex=duplex, colour=colour,
                            max_dpi=self.max_dpi())

    def max_dpi(self) -> int:
        if self.resolutions:
            return max(self.resolutions)
        if self.resolution_range:
            return int(self.resolution_range[1])
        return 600

    def nearest_dpi(self, dpi: int) -> int | None:
        """The lowest offered resolution not below ``dpi`` (archival minimums are
        minimums: 200 asked never becomes 150), else the highest; None if the device
        has no resolution option."""
        if self.resolutions:
            return next((r for r in self.resolutions if r >= dpi), self.resolutions[-1])
        if self.resolution_range:
            lo, hi, step = self.resolution_range
            wanted = min(max(float(dpi), lo), hi)
            if step > 0:
                wanted = min(lo + math.ceil((wanted - lo) / step - 1e-9) * step, hi)
            return max(1, round(wanted))
        return None

    def arguments(self, settings: ScanSettings) -> list[str]:
        """scanimage arguments for ``settings`` in this device's own words; a clear
        CaptureError for what the device cannot do."""
        args: list[str] = []
        if self.modes:
            args += ["--mode", self._mode(settings.colour)]
        dpi = self.nearest_dpi(settings.dpi)
        if dpi is not None:
            args += ["--resolution", str(dpi)]
        if settings.duplex and not settings.feeder:
            raise CaptureError("双面扫描只能用自动进纸器，请选择进纸器扫描。")
        if settings.feeder:
            args += self._feeder(settings.duplex)
        elif self.sources:
            flatbeds = [s for s in self.sources if _has(s, _FLATBED_WORDS)]
            if not flatbeds:
                raise CaptureError("这台扫描仪没有玻璃板，请把材料放入自动进纸器扫描。")
            args += ["--source", flatbeds[0]]
        return args

    def _mode(self, colour: bool) -> str:
        colours = [m for m in self.modes if _has(m, _COLOUR_WORDS)]
        greys = [m for m in self.modes if _has(m, _GREY_WORDS)]
        if colour:
            if not colours:
                raise CaptureError("这台扫描仪不能彩色扫描，请换用能彩色扫描的设备（证照、印章须彩色）。")
            return colours[0]
        if greys:
            return greys[0]
        # A device offering only lineart and colour: colour keeps the grey tones the
        # pipeline needs for deskew; black-and-white would lose faint stamps.
        return colours[0] if colours else self.modes[0]

    def _feeder(self, duplex: bool) -> list[str]:
        feeders = [s for s in self.sources if _is_feeder(s)]
        if not feeders:
            raise CaptureError("这台扫描仪没有自动进纸器，请把材料逐页放在玻璃板上扫描。")
        duplexes = [s for s in feeders if _has(s, _DUPLEX_WORDS)]
        simplex = [s for s in feeders if s not in duplexes and "back" not in s.lower()]
        if duplex:
            if duplexes:
                return ["--source", duplexes[0]]
            if self.duplex_switch is not None:
                return ["--source", (simplex or feeders)[0], *self.duplex_switch]
            raise CaptureError("这台扫描仪不能双面扫描，请改用单面扫描，或翻面后再扫一次。")
        chosen = sorted(simplex or feeders, key=lambda s: "front" not in s.lower())[0]
        args = ["--source", chosen]
        if self.duplex_switch is not None and self.duplex_switch[0] == "--adf-mode":
            args += ["--adf-mode", "Simplex"]
        return args


def _has(value: str, words: Sequence[str]) -> bool:
    lowered = value.lower()
    return any(word in lowered for word in words)


def _is_feeder(source: str) -> bool:
    return _has(source, _FEEDER_WORDS) or _has(source, _DUPLEX_WORDS)


def parse_options(text: str) -> DeviceOptions:
    """What ``scanimage -d DEV -A`` printed, reduced to the options a document needs."""
    modes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    resolutions: tuple[int, ...] = ()
    resolution_range: tuple[float, float, float] | None = None
    duplex_switch: tuple[str, str] | None = None
    for line in text.splitlines():
        match = _OPTION_LINE.match(line)
        if not match:
            continue
        name, rest = match["name"], match["rest"]
        if match["bool"]:
            if name == "--duplex":
                duplex_switch = ("--duplex", "yes")
            continue
        constraint = _constraint(rest)
        if constraint is None:
            continue
        if name == "--mode":
            modes = tuple(constraint.split("|"))
        elif name == "--source":
            sources = tuple(constraint.split("|"))
        elif name == "--adf-mode" and "Duplex" in constraint.split("|"):
            duplex_switch = ("--adf-mode", "Duplex")
        elif name == "--resolution":
            span = _RANGE.match(constraint)
            if span:
                resolution_range = (float(span["lo"]), float(span["hi"]),
                                    float(span["step"] or 0))
            else:
                values = _UNIT.sub("", constraint).split("|")
                resolutions = tuple(sorted({round(float(v)) for v in values
                                            if re.fullmatch(r"\d+(?:\.\d+)?", v)}))
    return DeviceOptions(modes, sources, resolutions, resolution_range, duplex_switch)


def _constraint(rest: str) -> str | None:
    """``Gray|Color [Gray]`` → ``Gray|Color``. An ``[inactive]`` option is kept: it
    becomes active once an earlier one is set (``--adf-mode`` after ``--source ADF``)."""
    rest = rest.strip()
    if rest.endswith("]") and " [" in rest:
        rest = rest.rsplit(" [", 1)[0]
    return rest.strip() or None


def parse_device_list(text: str) -> list[tuple[str, str]]:
    """``scanimage -f '%d\\t%v %m\\n'`` output → (device, vendor and model)."""
    devices = []
    for line in text.splitlines():
        device, _, name = line.partition("\t")
        if device.strip():
            devices.append((device.strip(), " ".join(name.split())))
    return devices
