"""The watched folder (app/capture/folder.py) on real folders: a scanner writing in
pieces (a thread), copies and renames, restarts with the same ledger, a folder that
vanishes, a second process on the same ledger, and files that cannot be read."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.capture.folder import WatchedFolder
from app.capture.source import Cancel, Cancelled, CaptureError, DeviceGone, RawPage, ScanSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
QUICK = {"settle_seconds": 0.3, "poll_seconds": 0.05}


def _png(shade: int, size: tuple[int, int] = (120, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, shade).save(out, "PNG")
    return out.getvalue()


def _noisy_png() -> bytes:
    """A PNG that does not compress away, so it takes several pieces to write."""
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (400, 500), np.uint8)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    return folder


def _acquire(folder: WatchedFolder, told: list[str] | None = None) -> list[RawPage]:
    return list(folder.acquire(ScanSettings(), Cancel(), (told if told is not None else []).append))


def test_a_file_written_slowly_is_taken_once_and_only_when_complete(
        scans: Path, tmp_path: Path) -> None:
    data = _noisy_png()
    pieces = [data[i:i + len(data) // 6 + 1] for i in range(0, len(data), len(data) // 6 + 1)]
    started = threading.Event()

    def scanner() -> None:
        with open(scans / "scan0001.png", "wb") as out:
            for piece in pieces:
                out.write(piece)
                out.flush()
                started.set()
                time.sleep(0.25)   # well inside settle_seconds: the file is still growing

    writer = threading.Thread(target=scanner)
    writer.start()
    started.wait()
    folder = WatchedFolder(scans, tmp_path / "ledger.json", settle_seconds=2.0, poll_seconds=0.1)
    told: list[str] = []
    pages = _acquire(folder, told)
    writer.join()
    assert len(pages) == 1
    assert np.array_equal(pages[0].pixels, np.asarray(Image.open(io.BytesIO(data))))
    assert folder.problems == [] and not any("损坏" in m for m in told)
    assert _acquire(folder) == []   # taken once


def test_the_same_scan_under_another_name_is_taken_once(scans: Path, tmp_path: Path) -> None:
    (scans / "a.png").write_bytes(_png(10))
    (scans / "copy of a.png").write_bytes(_png(10))
    (scans / "b.png").write_bytes(_png(20))
    folder = WatchedFolder(scans, tmp_path / "ledger.json", **QUICK)
    assert sorted(int(p.pixels[0, 0]) for p in _acquire(folder)) == [10, 20]
    (scans / "a.png").rename(scans / "renamed.png")
    assert _acquire(folder) == []
    assert sorted(p.name for p in scans.iterdir()) == ["b.png", "copy of a.png", "renamed.png"]


def test_a_restart_with_the_same_ledger_takes_only_new_files(scans: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    (scans / "a.png").write_bytes(_png(10))
    assert len(_acquire(WatchedFolder(scans, ledger, **QUICK))) == 1
    (scans / "b.png").write_bytes(_png(20))
    again = WatchedFolder(scans, ledger, **QUICK)
    assert [int(p.pixels[0, 0]) for p in _acquire(again)] == [20]
    recorded = json.loads(ledger.read_text(encoding="utf-8"))
    assert sorted(e["name"] for e in recorded["taken"].values()) == ["a.png", "b.png"]


def test_a_file_taken_before_is_not_even_read_after_a_restart(scans: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    scan = scans / "a.png"
    scan.write_bytes(_png(10))
    _acquire(WatchedFolder(scans, ledger, **QUICK))
    # Same name, size and mtime, other bytes: only a reader would notice.
    before = scan.stat()
    scan.write_bytes(b"\0" * before.st_size)
    os.utime(scan, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = WatchedFolder(scans, ledger, **QUICK)
    assert _acquire(again) == [] and again.problems == []


def test_a_file_that_cannot_be_decoded_is_reported_once_and_the_rest_still_taken(
        scans: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    (scans / "good.png").write_bytes(_png(10))
    (scans / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    folder = WatchedFolder(scans, ledger, **QUICK)
    pages: list[RawPage] = []
    told: list[str] = []
    with pytest.raises(CaptureError) as caught:
        for page in folder.acquire(ScanSettings(), Cancel(), told.append):
            pages.append(page)
    assert [int(p.pixels[0, 0]) for p in pages] == [10]
    assert "bad.jpg：" in str(caught.value)
    assert [p.path.name for p in folder.problems] == ["bad.jpg"]
    assert sum("bad.jpg：" in m for m in told) == 1
    assert _acquire(folder) == []                                  # not tried again …
    restarted = WatchedFolder(scans, ledger, **QUICK)
    assert _acquire(restarted) == [] and restarted.problems == []  # … nor after a restart
    (scans / "bad.jpg").write_bytes(_png(30))                      # replaced by a good scan
    assert [int(p.pixels[0, 0]) for p in _acquire(restarted)] == [30]


def test_partial_empty_hidden_and_foreign_files_are_left_alone(scans: Path, tmp_path: Path) -> None:
    for name in (".scan.png", "~scan.png", "scan.png.part", "scan.tmp", "Thumbs.db",
                 "说明.txt", "scan.png.crdownload"):
        (scans / name).write_bytes(_png(10) if name.endswith(("png", "part")) else b"junk")
    (scans / "created.png").write_bytes(b"")   # a scanner has only opened it so far
    (scans / "sub").mkdir()
    (scans / "sub" / "inner.png").write_bytes(_png(10))
    folder = WatchedFolder(scans, tmp_path / "ledger.json", **QUICK)
    assert _acquire(folder) == [] and folder.problems == []


def test_a_pdf_and_a_file_name_that_is_not_utf8_are_taken(scans: Path, tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    pen = canvas.Canvas(str(scans / "batch.pdf"))
    for text in ("one", "two", "three"):
        pen.drawString(72, 700, text)
        pen.showPage()
    pen.save()
    (scans / os.fsdecode("扫描".encode("gbk") + b".png")).write_bytes(_png(40))
    ledger = tmp_path / "ledger.json"
    pages = _acquire(WatchedFolder(scans, ledger, **QUICK))
    assert len(pages) == 4
    assert sorted(p.origin for p in pages)[:3] == ["batch.pdf 第1页", "batch.pdf 第2页",
                                                   "batch.pdf 第3页"]
    assert len(json.loads(ledger.read_text(encoding="utf-8"))["taken"]) == 2


def test_a_huge_file_in_the_folder_is_refused_by_size_once(scans: Path, tmp_path: Path) -> None:
    with open(scans / "huge.pdf", "wb") as out:
        out.truncate(150 * 1024 * 1024)
    folder = WatchedFolder(scans, tmp_path / "ledger.json", **QUICK)
    with pytest.raises(CaptureError, match=r"huge\.pdf：文件有 150 MB"):
        _acquire(folder)
    assert _acquire(folder) == []


def test_a_folder_that_vanishes_while_watched_is_a_device_gone(scans: Path, tmp_path: Path) -> None:
    (scans / "a.png").write_bytes(_png(10))
    folder = WatchedFolder(scans, tmp_path / "ledger.json", **QUICK)
    watching = folder.watch(Cancel())
    assert int(next(watching).pixels[0, 0]) == 10
    shutil.rmtree(scans)   # the share went down
    with pytest.raises(DeviceGone, match="无法访问"):
        next(watching)


def test_a_folder_that_is_not_there_says_so(tmp_path: Path) -> None:
    folder = WatchedFolder(tmp_path / "nowhere", tmp_path / "ledger.json", **QUICK)
    with pytest.raises(CaptureError, match="无法打开扫描文件夹") as caught:
        _acquire(folder)
    assert not isinstance(caught.value, DeviceGone)


def test_watching_keeps_taking_new_files_until_cancelled(scans: Path, tmp_path: Path) -> None:
    folder = WatchedFolder(scans, tmp_path / "ledger.json", **QUICK)
    cancel = Cancel()
    shades: list[int] = []
    (scans / "1.png").write_bytes(_png(10))
    with pytest.raises(Cancelled):
        for page in folder.watch(cancel):
            shades.append(int(page.pixels[0, 0]))
            if len(shades) == 1:
                (scans / "2.png").write_bytes(_png(20))   # the scanner sends another sheet
            else:
                cancel.set()   # the clerk stops watching
    assert shades == [10, 20]
    assert len(json.loads((tmp_path / "ledger.json").read_text(encoding="utf-8"))["taken"]) == 2


def test_a_corrupt_ledger_stops_rather_than_taking_everything_again(
        scans: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    ledger.write_text("{not json", encoding="utf-8")
    (scans / "a.png").write_bytes(_png(10))
    with pytest.raises(CaptureError, match=r"接收记录 .* 无法读取或已损坏"):
        _acquire(WatchedFolder(scans, ledger, **QUICK))
    assert ledger.read_text(encoding="utf-8") == "{not json"


@pytest.mark.skipif(os.name != "posix", reason="the ledger lock is POSIX flock")
def test_a_second_process_on_the_same_ledger_is_refused_until_the_first_stops(
        scans: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.json"
    (scans / "a.png").write_bytes(_png(10))
    child_code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.capture.folder import WatchedFolder\n"
        "from app.capture.source import Cancel\n"
        "folder = WatchedFolder(Path(sys.argv[1]), Path(sys.argv[2]), settle_seconds=0.3,"
        " poll_seconds=0.05)\n"
        "for page in folder.watch(Cancel()):\n"
        "    print('took', flush=True)\n"
        "sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", child_code, str(scans), str(ledger)],
                             cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "took"   # it holds the ledger now
        for _ in range(200):   # and records a.png once it comes back for more
            if ledger.exists():
                break
            time.sleep(0.05)
        (scans / "b.png").write_bytes(_png(20))
        with pytest.raises(CaptureError, match="正由另一个窗口或程序接收"):
            _acquire(WatchedFolder(scans, ledger, **QUICK))
    finally:
        child.kill()
        child.wait()
    pages = _acquire(WatchedFolder(scans, ledger, **QUICK))
    assert [int(p.pixels[0, 0]) for p in pages] == [20]


def test_a_link_in_the_folder_is_not_taken_and_a_folder_in_the_data_directory_is_refused(
        tmp_path: Path) -> None:
    from app.capture.sources import open_source
    from app.config import load_settings

    secret = tmp_path / "另一位申请人.png"
    Image.new("L", (400, 560), 255).save(secret)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "scan.png").symlink_to(secret)
    folder = WatchedFolder(inbox, tmp_path / "seen.json", settle_seconds=0.2, poll_seconds=0.05)
    assert list(folder.acquire(ScanSettings(), Cancel())) == []
    home = tmp_path / "home"
    settings = load_settings(home)
    for inside in (home, home / "blobs", home / ".." / "home" / "未打印文书"):
        with pytest.raises(CaptureError, match="在数据目录"):
            open_source(f"folder:{inside}", settings)
