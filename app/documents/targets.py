"""Where a document goes: a PDF file, a system printer, or an ESC/POS thermal printer.

A target is written as one string, in ``settings.toml`` ``[printers]`` and on the
command line::

    system:                      the system's default printer (A4 laser)
    system:HP_LaserJet           a named system printer (CUPS queue / Windows printer)
    escpos:tcp://10.0.0.31:9100  a thermal printer on the network (port 9100 if omitted)
    escpos:/dev/usb/lp0          a thermal printer's device file (or any file)
    escpos:cups://POS80          a CUPS queue that passes raw bytes to a thermal printer
    escpos:win32://POS-80        a Windows printer queue, raw (needs pywin32)
    pdf:/path/out.pdf            no printer: write the PDF

The window prints to ``system:`` targets through Qt; without Qt (the ``yichuang``
command) they go through CUPS's ``lp`` (see :mod:`app.documents.spool`). This module
only names targets, so settings can be checked without loading printer libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("system", "escpos", "pdf")
ESCPOS_PORT = 9100


class PrintError(RuntimeError):
    """The printer could not be reached or refused the job; the message is for the clerk."""


@dataclass(frozen=True, slots=True)
class PrintTarget:
    scheme: str        # system | escpos | pdf
    address: str       # printer name, escpos URI, or file path

    def __str__(self) -> str:
        return f"{self.scheme}:{self.address}"

    @property
    def label(self) -> str:
        if self.scheme == "system":
            return f"打印机 {self.address}" if self.address else "默认打印机"
        if self.scheme == "escpos":
            return f"热敏打印机 {self.address}"
        return f"文件 {self.address}"

    @classmethod
    def parse(cls, text: str) -> PrintTarget:
        """Parse a target string; ValueError with a Chinese message if it is malformed."""
        scheme, sep, address = text.strip().partition(":")
        if not sep or scheme not in SCHEMES:
            raise ValueError(f"打印目标“{text}”无效：应以 system:、escpos: 或 pdf: 开头")
        address = address.strip()
        if scheme == "pdf" and not address:
            raise ValueError("pdf: 后应写文件路径")
        if scheme == "escpos":
            escpos_endpoint(address)   # validate now, not when the applicant waits
        return cls(scheme, address)


def escpos_endpoint(address: str) -> tuple[str, str, int]:
    """(kind, name, port) for an escpos address: tcp, file, cups or win32."""
    if not address:
        raise ValueError("escpos: 后应写打印机地址，如 tcp://10.0.0.31:9100 或 /dev/usb/lp0")
    if address.startswith("/") or address.startswith("file://"):
        path = address.removeprefix("file://")
        return "file", path, 0
    parts = urlsplit(address)
    if parts.scheme == "tcp":
        if not parts.hostname:
            raise ValueError(f"热敏打印机地址“{address}”缺少主机名")
        try:
            port = parts.port or ESCPOS_PORT
        except ValueError:
            raise ValueError(f"热敏打印机地址“{address}”的端口无效") from None
        return "tcp", parts.hostname, port
    if parts.scheme in ("cups", "win32") and (parts.netloc or parts.path.strip("/")):
        return parts.scheme, parts.netloc or parts.path.strip("/"), 0
    raise ValueError(f"热敏打印机地址“{address}”无效：应为 tcp://主机:端口、/dev/设备、"
                     "cups://队列名 或 win32://打印机名")
