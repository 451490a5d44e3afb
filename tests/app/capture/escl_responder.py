"""A small eSCL scanner for tests: a real HTTP server on 127.0.0.1 (stdlib http.server in
a thread) that answers ScannerCapabilities, ScannerStatus, ScanJobs, NextDocument and
DELETE as a network scanner does, drawing each page with the fake source at the
resolution and colour mode asked — and able to misbehave as real ones do."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from PIL import Image

from app.capture.fake_source import PageKind, draw_page

PWG = "http://www.pwg.org/schemas/2010/12/sm"
SCAN = "http://schemas.hp.com/imaging/escl/2011/05/03"


@dataclass
class Misbehaviour:
    busy_posts: int = 0              # the first N POST ScanJobs answer 503
    busy_documents: int = 0          # the first N NextDocument answer 503 (warming up)
    drop_on_page: int | None = None  # the connection closes halfway through page k
    truncate_page: int | None = None  # page k is half a JPEG (its length says so)
    garbage_capabilities: bool = False
    bomb_capabilities: bool = False  # an entity-expansion ("billion laughs") document
    adf_state: str = "ScannerAdfLoaded"
    refuse_job_status: int | None = None  # POST ScanJobs answers this status
    trickle_page: int | None = None  # page k promises 10 MB and sends a byte every 0.1 s


@dataclass
class Job:
    source: str
    duplex: bool
    colour_mode: str
    dpi: int
    remaining: int
    served: int = 0


@dataclass
class EsclResponder:
    feeder_pages: int = 3
    platen: bool = True
    feeder: bool = True
    duplex: bool = True
    resolutions: tuple[int, ...] = (75, 100, 150, 200, 300, 600)
    faults: Misbehaviour = field(default_factory=Misbehaviour)
    seen: list[tuple[str, str]] = field(default_factory=list)     # (method, path)
    settings: list[dict[str, str]] = field(default_factory=list)  # each POSTed ScanSettings
    jobs: dict[str, Job] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.responder = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []

    def connected(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.append(connection)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/eSCL"

    def start(self) -> EsclResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        """The scanner switched off: the port stops answering and the connections a
        client keeps alive are cut."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> EsclResponder:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._thread.is_alive():
            self.stop()

    # ------------------------------------------------------------ documents

    def capabilities(self) -> bytes:
        if self.faults.garbage_capabilities:
            return b"<html><body>Printer home page</body>"
        if self.faults.bomb_capabilities:
            return (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                    b'<scan:ScannerCapabilities xmlns:scan="' + SCAN.encode() + b'">'
                    b"&lol2;</scan:ScannerCapabilities>")
        resolutions = "".join(
            f"<scan:DiscreteResolution><scan:XResolution>{r}</scan:XResolution>"
            f"<scan:YResolution>{r}</scan:YResolution></scan:DiscreteResolution>"
            for r in self.resolutions)
        caps = (
            "<scan:MaxWidth>2550</scan:MaxWidth><scan:MaxHeight>3508</scan:MaxHeight>"
            "<scan:SettingProfiles><scan:SettingProfile><scan:ColorModes>"
            "<scan:ColorMode>BlackAndWhite1</scan:ColorMode><scan:ColorMode>Grayscale8</scan:ColorMode>"
            "<scan:ColorMode>RGB24</scan:ColorMode></scan:ColorModes><scan:DocumentFormats>"
            "<pwg:DocumentFormat>image/jpeg</pwg:DocumentFormat>"
            "<pwg:DocumentFormat>application/pdf</pwg:DocumentFormat></scan:DocumentFormats>"
            f"<scan:SupportedResolutions><scan:DiscreteResolutions>{resolutions}"
            "</scan:DiscreteResolutions></scan:SupportedResolutions>"
            "</scan:SettingProfile></scan:SettingProfiles>")
        platen = (f"<scan:Platen><scan:PlatenInputCaps>{caps}</scan:PlatenInputCaps></scan:Platen>"
                  if self.platen else "")
        adf = ""
        if self.feeder:
            duplex = (f"<scan:AdfDuplexInputCaps>{caps}</scan:AdfDuplexInputCaps>"
                      if self.duplex else "")
            adf = (f"<scan:Adf><scan:AdfSimplexInputCaps>{caps}</scan:AdfSimplexInputCaps>"
                   f"{duplex}<scan:FeederCapacity>50</scan:FeederCapacity></scan:Adf>")
        return (f'<?xml version="1.0" encoding="UTF-8"?>'
                f'<scan:ScannerCapabilities xmlns:scan="{SCAN}" xmlns:pwg="{PWG}">'
                f"<pwg:Version>2.63</pwg:Version>"
                f"<pwg:MakeAndModel>HP  LaserJet MFP M28w</pwg:MakeAndModel>"
                f"<pwg:SerialNumber>VNC1234</pwg:SerialNumber>{platen}{adf}"
                f"</scan:ScannerCapabilities>").encode()

    def status(self) -> bytes:
        return (f'<?xml version="1.0" encoding="UTF-8"?>'
                f'<scan:ScannerStatus xmlns:scan="{SCAN}" xmlns:pwg="{PWG}">'
                f"<pwg:Version>2.63</pwg:Version><pwg:State>Idle</pwg:State>"
                f"<scan:AdfState>{self.faults.adf_state}</scan:AdfState>"
                f"</scan:ScannerStatus>").encode()

    def start_job(self, body: bytes) -> tuple[int, str | None]:
        root = ET.fromstring(body)
        asked = {child.tag.split("}")[1]: (child.text or "") for child in root}
        with self._lock:
            self.settings.append(asked)
            if self.faults.busy_posts:
                self.faults.busy_posts -= 1
                return 503, None
        if self.faults.refuse_job_status:
            return self.faults.refuse_job_status, None
        feeder = asked.get("InputSource") == "Feeder"
        duplex = asked.get("Duplex") == "true"
        empty = self.faults.adf_state == "ScannerAdfEmpty"
        pages = (0 if empty else self.feeder_pages * (2 if duplex else 1)) if feeder else 1
        job = Job(asked.get("InputSource", ""), duplex, asked.get("ColorMode", ""),
                  int(asked.get("XResolution", "300")), pages)
        name = uuid.uuid4().hex
        self.jobs[name] = job
        self.created.append(name)
        return 201, f"/eSCL/ScanJobs/{name}"

    def page(self, job: Job) -> bytes:
        kind = (PageKind.FORM, PageKind.CERTIFICATE)[job.served % 2]
        image = Image.fromarray(draw_page(kind, job.dpi, seed=job.served)[:, :, ::-1])
        if job.colour_mode != "RGB24":
            image = image.convert("L")
        out = io.BytesIO()
        # JFIF says 72 dpi, as many scanners' firmware does whatever the resolution.
        image.save(out, "JPEG", quality=75, dpi=(72, 72))
        return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    @property
    def responder(self) -> EsclResponder:
        return self.server.responder  # type: ignore[attr-defined, no-any-return]

    def setup(self) -> None:
        super().setup()
        self.responder.connected(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/xml",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        responder = self.responder
        responder.seen.append(("GET", self.path))
        if self.path == "/eSCL/ScannerCapabilities":
            return self._send(200, responder.capabilities())
        if self.path == "/eSCL/ScannerStatus":
            return self._send(200, responder.status())
        parts = self.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["eSCL", "ScanJobs"] and parts[3] == "NextDocument":
            return self._next_document(parts[2])
        return self._send(404)

    def _next_document(self, name: str) -> None:
        responder, faults = self.responder, self.responder.faults
        job = responder.jobs.get(name)
        if job is None or job.remaining == 0:
            return self._send(404)
        if faults.busy_documents:
            faults.busy_documents -= 1
            return self._send(503)
        data = responder.page(job)
        job.remaining -= 1
        job.served += 1
        if faults.truncate_page == job.served:
            data = data[: len(data) // 2]
        if faults.trickle_page == job.served:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            for byte in data[:600]:   # a minute of bytes, unless the client hangs up
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    break
                time.sleep(0.1)
            self.close_connection = True
            return None
        if faults.drop_on_page == job.served:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return None
        return self._send(200, data, "image/jpeg")

    def do_POST(self) -> None:
        self.responder.seen.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/eSCL/ScanJobs":
            return self._send(404)
        status, location = self.responder.start_job(body)
        return self._send(status, headers={"Location": location} if location else None)

    def do_DELETE(self) -> None:
        self.responder.seen.append(("DELETE", self.path))
        name = self.path.strip("/").split("/")[-1]
        if self.responder.jobs.pop(name, None) is None:
            return self._send(404)
        self.responder.deleted.append(name)
        return self._send(200)
