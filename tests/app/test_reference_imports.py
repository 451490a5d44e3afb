"""Reference data imports: what is read at all, and large catalogues in short writes."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.calendar_format import CalendarFileError, parse_calendar_bytes
from app.domain.catalogue_format import CatalogueFileError
from app.services.catalogue import CatalogueService
from app.storage.models import CatalogueItemRow, CatalogueRelease
from app.workstation import Workstation
from tests.app.test_calendar import NOTICE_2027
from tests.app.test_catalogue_format import BASE, FOOD

GB = 1024 ** 3

Importer = Callable[[Workstation, Path], object]


def import_calendar(ws: Workstation, path: Path) -> object:
    return ws.calendar.import_file(path)


def import_catalogue(ws: Workstation, path: Path) -> object:
    return ws.catalogue.import_file(path)


IMPORTERS = [pytest.param(import_calendar, CalendarFileError, id="calendar"),
             pytest.param(import_catalogue, CatalogueFileError, id="catalogue")]


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and no time) to make."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@contextmanager
def nothing_opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if the file is opened for reading at all."""
    def refuse(*args: object, **kwargs: object) -> int:
        raise AssertionError(f"opened {args[0]!r}, which the size or type check should refuse")

    with monkeypatch.context() as m:
        m.setattr(os, "open", refuse)
        yield


# ---- what is read at all ----------------------------------------------------------------


@pytest.mark.parametrize(("importer", "error"), IMPORTERS)
def test_a_huge_file_is_refused_from_its_size_before_reading(
        module_ws: Workstation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        importer: Importer, error: type[Exception]) -> None:
    huge = sparse(tmp_path / "huge.json", 6 * GB)
    with nothing_opened(monkeypatch), pytest.raises(error, match=r"6144\.0MB，超过上限") as info:
        importer(module_ws, huge)
    assert str(huge) in str(info.value)


def test_the_size_limits_are_5_mb_for_a_calendar_and_50_mb_for_a_catalogue(
        module_ws: Workstation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calendar = sparse(tmp_path / "cal.json", 5 * 1024 * 1024 + 1)
    with nothing_opened(monkeypatch), pytest.raises(CalendarFileError, match=r"上限5\.0MB"):
        module_ws.calendar.import_file(calendar)
    catalogue = sparse(tmp_path / "cat.json", 50 * 1024 * 1024 + 1)
    with nothing_opened(monkeypatch), pytest.raises(CatalogueFileError, match=r"上限50\.0MB"):
        module_ws.catalogue.import_file(catalogue)


@pytest.mark.parametrize(("importer", "error"), IMPORTERS)
def test_a_directory_is_refused_clearly(module_ws: Workstation, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, importer: Importer,
                                        error: type[Exception]) -> None:
    with nothing_opened(monkeypatch), pytest.raises(error, match="是一个目录"):
        importer(module_ws, tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize(("importer", "error"), IMPORTERS)
def test_a_fifo_is_refused_without_waiting_on_it(module_ws: Workstation, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 importer: Importer,
                                                 error: type[Exception]) -> None:
    """Opening a FIFO for reading would block until a writer came: it is never opened."""
    fifo = tmp_path / "2027.json"
    os.mkfifo(fifo)
    with nothing_opened(monkeypatch), pytest.raises(error, match="不是普通文件"):
        importer(module_ws, fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize(("importer", "error"), IMPORTERS)
def test_a_device_is_refused(module_ws: Workstation, monkeypatch: pytest.MonkeyPatch,
                             importer: Importer, error: type[Exception]) -> None:
    with nothing_opened(monkeypatch), pytest.raises(error, match="不是普通文件"):
        importer(module_ws, Path("/dev/zero"))   # endless: reading it would never finish


@pytest.mark.parametrize(("importer", "error"), IMPORTERS)
def test_a_missing_file_is_reported(module_ws: Workstation, tmp_path: Path,
                                    importer: Importer, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"无法读取文件 .*nope\.json：文件不存在"):
        importer(module_ws, tmp_path / "nope.json")


def test_a_symlink_to_a_plain_file_is_read(fresh_ws: Workstation, tmp_path: Path) -> None:
    target = tmp_path / "notice.json"
    target.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert fresh_ws.calendar.import_file(link) == [2027]


def test_calendar_messages_print_even_when_the_file_holds_surrogates() -> None:
    with pytest.raises(CalendarFileError) as info:
        parse_calendar_bytes(b'{"year": 2027, "\\ud800": 1}')
    message = str(info.value)
    message.encode("utf-8")                     # never UnicodeEncodeError
    assert "\\ud800" in message and "未知字段" in message
    with pytest.raises(CalendarFileError) as info:
        parse_calendar_bytes(b'{"year": 2027, "holidays": [{"name": "x", "from": "\\udc00"}]}')
    str(info.value).encode("utf-8")


# ---- large catalogues in short transactions -----------------------------------------------


def big_catalogue(n: int, version: str = "big-1") -> dict[str, Any]:
    template = next(i for i in BASE["items"] if i["code"] == FOOD)
    items = []
    for i in range(n):
        entry = copy.deepcopy(template)
        entry.update(code=f"BIG-{i:06d}", name=f"食品经营许可（第{i}号）", version="1")
        items.append(entry)
    return {"format": "yichuang-catalogue", "format_version": 1, "version": version,
            "items": items}


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


class WriteCounter:
    """Wraps Database.write: counts the transactions, optionally fails from the Nth on."""

    def __init__(self, ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.fail_from: int | None = None
        real = ws.db.write

        @contextmanager
        def write() -> Iterator[Session]:
            self.count += 1
            if self.fail_from is not None and self.count >= self.fail_from:
                raise OSError("simulated power cut")
            with real() as session:
                yield session

        monkeypatch.setattr(ws.db, "write", write)


def catalogue_state(ws: Workstation) -> tuple[object, ...]:
    fresh = CatalogueService(ws.db)      # no cache: what another window would load
    current = fresh.current()
    return (current.version, current.items, current.bundles, fresh.releases(),
            [h.code for h in fresh.search("yyzz")])


def test_a_large_catalogue_is_written_in_several_transactions(
        fresh_ws: Workstation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.json", big_catalogue(1500))
    counter = WriteCounter(fresh_ws, monkeypatch)
    result = fresh_ws.catalogue.import_file(path)
    assert (result.items, result.new_items, result.unchanged) == (1500, 1500, False)
    # Items, the release row, its item links, the switch: at least four transactions.
    assert counter.count >= 4
    current = fresh_ws.catalogue.current()
    assert [i.code for i in current.items] == [f"BIG-{i:06d}" for i in range(1500)]
    assert [r.current for r in fresh_ws.catalogue.releases()] == [True, False]
    assert fresh_ws.catalogue.search("BIG-000149")[0].code == "BIG-000149"


def test_an_interrupted_import_leaves_the_previous_catalogue_current_and_intact(
        fresh_ws: Workstation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = catalogue_state(fresh_ws)
    path = write(tmp_path / "big.json", big_catalogue(1500))
    counter = WriteCounter(fresh_ws, monkeypatch)
    # Cut the power at transaction 1, 2, 3… of an import until one gets through: while
    # writing items, the release, its links, and at the very switch. Nothing after the
    # cut is written (not even the clean-up), as after a real power cut.
    cuts = 0
    for step in range(1, 1000):
        counter.count, counter.fail_from = 0, step
        try:
            result = fresh_ws.catalogue.import_file(path)
        except OSError as exc:
            assert "simulated power cut" in str(exc)
            counter.fail_from = None
            assert catalogue_state(fresh_ws) == before, f"cut at transaction {step}"
            cuts += 1
            continue
        break
    assert cuts >= 3
    # The import that got through reused the item rows the cut ones left behind.
    assert result.items == 1500 and result.new_items < 1500
    assert [i.code for i in fresh_ws.catalogue.current().items][:2] == ["BIG-000000",
                                                                         "BIG-000001"]
    assert len(fresh_ws.catalogue.current().items) == 1500
    assert [r.current for r in fresh_ws.catalogue.releases()] == [True, False]
    with fresh_ws.db.read() as session:
        assert session.scalar(select(func.count()).select_from(CatalogueItemRow)
                              .where(CatalogueItemRow.code.like("BIG-%"))) == 1500


def test_a_failed_import_removes_its_unfinished_release(fresh_ws: Workstation,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before = catalogue_state(fresh_ws)
    with fresh_ws.db.read() as session:
        releases = session.scalar(select(func.count()).select_from(CatalogueRelease))

    def broken_links(session: Session, rows: list[dict[str, Any]]) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("app.services.catalogue._insert_links", broken_links)
    with pytest.raises(RuntimeError, match="disk full"):
        fresh_ws.catalogue.import_file(write(tmp_path / "big.json", big_catalogue(300)))
    assert catalogue_state(fresh_ws) == before
    with fresh_ws.db.read() as session:   # the release row itself is gone again
        assert session.scalar(select(func.count()).select_from(CatalogueRelease)) == releases
