"""Reference data on the real server over loopback: administrators publish the catalogue,
calendar and credit list (API and CLI), every logged-in user reads them with ETag / 304,
old catalogue versions stay fetchable, and a bad file changes nothing."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from app.config import DEMO_SITE_CODE
from app.domain.calendar_format import parse_calendar_bytes
from app.domain.catalogue_format import parse_catalogue, parse_catalogue_bytes
from app.domain.checksum import mod11_2
from app.errors import UserError
from server import cli, cli_reference, reference
from server.db import ServerDatabase
from server.reference_models import ReferenceVersionRow
from server.settings import ServerSettings
from tests.server.conftest import ADMIN_PASSWORD, REPO, Server, init_home
from tests.server.test_accounts_api import CLERK_PASSWORD, add_user, post, refusal, register

DEMO = (REPO / "resources" / "catalogue" / "demo.json").read_bytes()
OTHER_SITE = "330100002"
CALENDAR_2027: dict[str, Any] = {"format": "yichuang-calendar", "years": [{
    "year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知（示例）",
    "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
                 {"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
    "workdays": [{"name": "春节调休", "date": "2027-02-14"}]}]}
LISTED = "33010219800101002" + mod11_2("33010219800101002")


def session_of(server: Server, username: str, password: str = CLERK_PASSWORD,
               device: str | None = None) -> dict[str, str]:
    """Bearer headers for ``username``, logged in on ``device`` (a new terminal of the
    admin's site if none is given)."""
    token = device or register(server).json()["device_token"]
    answer = post(server, "/v1/auth/login", {"username": username, "password": password},
                  **{"X-Device-Token": token})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def admin_and_clerk(server: Server) -> tuple[dict[str, str], dict[str, str]]:
    add_user(server, "lisi")
    return session_of(server, "admin", ADMIN_PASSWORD), session_of(server, "lisi")


def get(server: Server, path: str, auth: dict[str, str], **headers: str) -> requests.Response:
    return requests.get(f"{server.url}/v1/reference/{path}", headers={**auth, **headers},
                        timeout=30)


def put(server: Server, path: str, auth: dict[str, str], body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return requests.put(f"{server.url}/v1/reference/{path}", data=data, timeout=60,
                        headers={**auth, "Content-Type": "application/json"})


def next_catalogue(doc: dict[str, Any], version: str) -> dict[str, Any]:
    """A later catalogue: one item renamed, with its item version raised as it must be."""
    later = copy.deepcopy(doc)
    later["version"] = version
    later["items"][0]["name"] += "（变更）"
    later["items"][0]["version"] = str(later["items"][0]["version"]) + ".1"
    return later


def test_an_administrator_publishes_the_catalogue_and_a_clerk_reads_it_with_its_etag(
        server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    published = put(server, "catalogue", admin, DEMO)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == "2026.11.4-demo" and published.json()["entries"] == 54
    first = get(server, "catalogue", clerk)
    assert first.status_code == 200
    # The client's own reader accepts what the server serves, and it is the same catalogue.
    assert parse_catalogue(first.json()) == parse_catalogue_bytes(DEMO)
    etag = first.headers["ETag"]
    assert etag == published.headers["ETag"]
    same = get(server, "catalogue", clerk, **{"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["ETag"]) == (304, b"", etag)
    # The very same content again, even formatted otherwise, makes no new version.
    again = put(server, "catalogue", admin, json.dumps(json.loads(DEMO), indent=4).encode())
    assert again.status_code == 200 and again.json()["created"] is False
    assert get(server, "catalogue", clerk, **{"If-None-Match": etag}).status_code == 304


def test_a_new_catalogue_changes_the_etag_and_the_old_version_stays_fetchable(
        server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    old_etag = put(server, "catalogue", admin, DEMO).headers["ETag"]
    later = next_catalogue(json.loads(DEMO), "2026.12.1")
    assert put(server, "catalogue", admin, later).status_code == 201
    changed = get(server, "catalogue", clerk, **{"If-None-Match": old_etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != old_etag
    assert changed.json()["version"] == "2026.12.1"
    assert changed.json()["items"][0]["name"].endswith("（变更）")
    old = get(server, "catalogue?version=2026.11.4-demo", clerk)
    assert old.status_code == 200 and old.headers["ETag"] == old_etag
    assert parse_catalogue(old.json()) == parse_catalogue_bytes(DEMO)
    refusal(get(server, "catalogue?version=1999.1", clerk), 404, "unknown_version")
    listed = get(server, "catalogue/versions", clerk).json()["versions"]
    assert [(v["version"], v["current"], v["published_by"]) for v in listed] == [
        ("2026.11.4-demo", False, "admin"), ("2026.12.1", True, "admin")]


def test_only_an_administrator_publishes_and_only_logged_in_users_read(
        server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    assert "管理员" in refusal(put(server, "catalogue", clerk, DEMO), 403, "not_allowed")
    refusal(put(server, "credit-list", clerk, b"{}"), 403, "not_allowed")
    refusal(get(server, "catalogue", clerk), 404, "not_published")   # nothing was published
    refusal(get(server, "catalogue", {}), 401, "no_token")
    refusal(put(server, "catalogue", {}, DEMO), 401, "no_token")
    assert put(server, "catalogue", admin, DEMO).status_code == 201


def test_an_invalid_catalogue_is_refused_whole_and_the_current_version_stays(
        server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    etag = put(server, "catalogue", admin, DEMO).headers["ETag"]
    broken = next_catalogue(json.loads(DEMO), "2026.12.1")
    del broken["items"][1]["name"]
    message = refusal(put(server, "catalogue", admin, broken), 422, "invalid_catalogue")
    assert "第2个事项" in message and "name" in message and "缺少必填字段" in message
    assert "不是有效的JSON" in refusal(put(server, "catalogue", admin, b'{"format": '), 422,
                                       "invalid_catalogue")
    assert "UTF-8" in refusal(put(server, "catalogue", admin, "事项目录".encode("gbk")), 422,
                              "invalid_catalogue")
    # An item changed without raising its own version: every client would refuse it.
    sneaky = json.loads(DEMO)
    sneaky["version"], sneaky["items"][0]["name"] = "2026.12.2", "改了名却没改版本"
    assert "已导入过但内容不同" in refusal(put(server, "catalogue", admin, sneaky), 422,
                                          "invalid_catalogue")
    # Another content under a version name already published.
    renamed = next_catalogue(json.loads(DEMO), "2026.11.4-demo")
    refusal(put(server, "catalogue", admin, renamed), 409, "version_exists")
    assert get(server, "catalogue", clerk, **{"If-None-Match": etag}).status_code == 304
    assert [v["version"] for v in get(server, "catalogue/versions", clerk).json()["versions"]
            ] == ["2026.11.4-demo"]


def test_a_file_over_the_size_limit_is_refused_and_changes_nothing(server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    etag = put(server, "calendar", admin, CALENDAR_2027).headers["ETag"]
    huge = b" " * (reference.MAX_BYTES["calendar"] + 1)
    answer = put(server, "calendar", admin, huge)
    # Refused by its size before it is read, by the endpoint's own limit for the kind.
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "reference_too_large"
    assert get(server, "calendar", clerk, **{"If-None-Match": etag}).status_code == 304


def test_the_calendar_adds_years_and_replaces_one_only_when_asked(server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    assert put(server, "calendar", admin, CALENDAR_2027).status_code == 201
    first = get(server, "calendar", clerk)
    assert parse_calendar_bytes(first.content) == parse_calendar_bytes(
        json.dumps(CALENDAR_2027).encode())
    year_2028 = {"year": 2028, "source": "2028年通知（示例）",
                 "holidays": [{"name": "元旦", "from": "2028-01-01", "to": "2028-01-01"}]}
    assert put(server, "calendar", admin, year_2028).status_code == 201
    both = get(server, "calendar", clerk, **{"If-None-Match": first.headers["ETag"]})
    assert both.status_code == 200
    assert [n.year for n in parse_calendar_bytes(both.content)] == [2027, 2028]
    corrected = copy.deepcopy(CALENDAR_2027)
    corrected["years"][0]["workdays"] = []
    assert "2027年" in refusal(put(server, "calendar", admin, corrected), 409,
                              "calendar_year_covered")
    assert get(server, "calendar", clerk, **{"If-None-Match": both.headers["ETag"]}
               ).status_code == 304
    replaced = put(server, "calendar?replace=true", admin, corrected)
    assert replaced.status_code == 201
    notices = parse_calendar_bytes(get(server, "calendar", clerk).content)
    assert [len(n.days) for n in notices] == [11, 1]          # 2027 without its 调休 day
    message = refusal(put(server, "calendar", admin, {"year": 2029, "holiday": []}), 422,
                      "invalid_calendar")
    assert "未知字段" in message


def test_the_credit_list_is_county_wide_and_checked_like_the_clients(server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    listed = {"format": "yichuang-credit", "format_version": 1, "version": "2026.11.20",
              "published_at": "2026-11-20", "publisher": "示例县公共信用信息中心",
              "entries": [{"id_type": "居民身份证", "id_number": LISTED.lower(), "name": "王小明",
                           "measure": "限制适用告知承诺制和容缺受理"}]}
    assert put(server, "credit-list", admin, listed).status_code == 201
    add_user(server, "zhaoliu", role="supervisor", site=OTHER_SITE)
    add_user(server, "qianqi", site=OTHER_SITE)
    there = register(server, user="zhaoliu", password=CLERK_PASSWORD).json()
    assert there["site"] == OTHER_SITE
    elsewhere = session_of(server, "qianqi", device=there["device_token"])
    for reader in (clerk, elsewhere):
        answer = get(server, "credit-list", reader)
        assert answer.status_code == 200
        assert [e["id_number"] for e in answer.json()["entries"]] == [LISTED]
    bad = {**listed, "version": "2026.11.21",
           "entries": [{**listed["entries"][0], "id_number": "330102198001010020"}]}
    assert "证件号码" in refusal(put(server, "credit-list", admin, bad), 422,
                             "invalid_credit_list")
    assert get(server, "credit-list", clerk).json()["version"] == "2026.11.20"


def test_queue_categories_are_the_sites_own_or_the_demo_set(server: Server) -> None:
    admin, clerk = admin_and_clerk(server)
    first = get(server, "queue-categories", clerk)
    assert [(c["prefix"], c["name"]) for c in first.json()["categories"]] == [
        ("A", "综合受理"), ("B", "出件"), ("C", "咨询")]
    mine = [{"prefix": "A", "name": "综合受理", "position": 1},
            {"prefix": "B", "name": "出件", "position": 2},
            {"prefix": "C", "name": "咨询", "active": False, "position": 3},
            {"prefix": "D", "name": "不动产登记", "position": 4}]
    refusal(put(server, "queue-categories", admin, {"categories": mine[:2] + mine[3:]}),
            409, "category_removed")                       # C is made inactive, not dropped
    refusal(put(server, "queue-categories", clerk, {"categories": mine}), 403, "not_allowed")
    refusal(put(server, "queue-categories", admin,
                {"categories": [*mine, {"prefix": "e", "name": "小写"}]}), 422, "bad_category")
    refusal(put(server, "queue-categories", admin, {"categories": mine, "site": "x"}),
            422, "invalid_request")
    assert put(server, "queue-categories", admin, {"categories": mine}).status_code == 200
    now = get(server, "queue-categories", clerk, **{"If-None-Match": first.headers["ETag"]})
    assert now.status_code == 200 and now.json()["site"] == DEMO_SITE_CODE
    assert [(c["prefix"], c["active"]) for c in now.json()["categories"]] == [
        ("A", True), ("B", True), ("C", False), ("D", True)]
    add_user(server, "zhaoliu", role="supervisor", site=OTHER_SITE)
    there = register(server, user="zhaoliu", password=CLERK_PASSWORD).json()["device_token"]
    other = session_of(server, "zhaoliu", device=there)
    assert [c["prefix"] for c in get(server, "queue-categories", other).json()["categories"]
            ] == ["A", "B", "C"]


def test_the_sites_users_carry_offline_hashes_of_window_staff_but_never_an_administrators(
        server: Server) -> None:
    from app.services.accounts import verify_password

    for username, role in (("lisi", "clerk"), ("dai", "agent"), ("zhang", "supervisor"),
                           ("boss", "admin")):
        add_user(server, username, role=role)
    listed = get(server, "users", session_of(server, "lisi"))
    users = {u["username"]: u for u in listed.json()["users"]}
    assert sorted(users) == ["admin", "boss", "dai", "lisi", "zhang"]
    for admin in ("admin", "boss"):   # listed (active, role) for the terminal, no hash
        assert (users[admin]["role"], users[admin]["active"], users[admin]["password_hash"]
                ) == ("admin", True, "")
    for staff in ("lisi", "dai", "zhang"):
        assert verify_password(CLERK_PASSWORD, users[staff]["password_hash"])


def test_a_value_the_database_cannot_hold_is_refused_not_a_server_failure(
        server: Server, database_url: str) -> None:
    clerk = session_of(server, "admin", ADMIN_PASSWORD)
    answer = get(server, "catalogue?version=%00", clerk)
    if database_url:   # PostgreSQL cannot hold U+0000: 422, never a 500
        refusal(answer, 422, "invalid_request")
    else:              # SQLite can: there is simply no such version
        refusal(answer, 404, "unknown_version")


# ---- the CLI: yichuang-server reference import … --------------------------------------


def reference_cli(home: Path, *argv: str, database_url: str = "") -> int:
    """``yichuang-server reference …`` as cli.main runs it, with this module's register()."""
    parser = cli._Parser(prog="yichuang-server")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli._Parser)
    common = cli._Parser(add_help=False)
    common.add_argument("--home", type=Path)
    common.add_argument("--database-url")
    cli_reference.register(sub, common)
    where = ["--home", str(home), *(["--database-url", database_url] if database_url else [])]
    args = parser.parse_args(["reference", "import", *argv, *where])
    assert isinstance(args, argparse.Namespace)
    try:
        return int(args.fn(args))
    except UserError as exc:
        print(f"yichuang-server: {exc}")
        return cli.EXIT_USAGE


def test_the_cli_publishes_what_the_server_then_serves(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = str(REPO / "resources/catalogue/demo.json")
    assert reference_cli(server.home, "catalogue", demo, database_url=server.database_url) == 0
    assert "已发布事项目录版本 2026.11.4-demo（54项）" in capsys.readouterr().out
    add_user(server, "lisi")
    clerk = session_of(server, "lisi")
    assert parse_catalogue(get(server, "catalogue", clerk).json()) == parse_catalogue_bytes(DEMO)
    assert reference_cli(server.home, "catalogue", demo, database_url=server.database_url) == 0
    assert "未生成新版本" in capsys.readouterr().out
    calendar = tmp_path / "2027.json"
    calendar.write_text(json.dumps(CALENDAR_2027, ensure_ascii=False), encoding="utf-8")
    assert reference_cli(server.home, "calendar", str(calendar),
                         database_url=server.database_url) == 0
    assert get(server, "calendar", clerk).status_code == 200


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"format": "yichuang-catalogue", "format_version": 1, "version": "x", "items": []}',
     "至少要有一个事项"),
    ("事项目录".encode("gbk"), "不是UTF-8编码"),
    (None, "超过上限"),       # a sparse file over the limit: refused by its size, unread
    (b"", "不是有效的JSON"),
], ids=["invalid", "not-utf8", "huge", "empty"])
def test_the_cli_refuses_a_bad_file_in_one_line_and_publishes_nothing(
        tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str],
        content: bytes | None, expected: str) -> None:
    home = tmp_path / "home"
    init_home(home, database_url)
    path = tmp_path / "catalogue.json"
    if content is None:
        with path.open("wb") as f:
            f.truncate(reference.MAX_BYTES["catalogue"] + 1)
    else:
        path.write_bytes(content)
    assert reference_cli(home, "catalogue", str(path), database_url=database_url
                         ) == cli.EXIT_USAGE
    out = capsys.readouterr().out.strip()
    assert expected in out and "\n" not in out
    db = ServerDatabase(ServerSettings(home, database_url))
    try:
        with db.session() as session:
            assert session.query(ReferenceVersionRow).count() == 0
    finally:
        db.dispose()
