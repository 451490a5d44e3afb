"""咨询登记: an enquiry that opens no case is logged in its own table, filtered by day and item."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.domain.case import Clerk, IdType
from app.domain.checksum import mod11_2
from app.services.consultations import ConsultationError, Enquiry
from app.storage.models import CaseEventRow, ConsultationRow
from app.workstation import Workstation

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）
GETI = "11330100MB0000001X4000116001000"   # 个体工商户设立登记
ID = "33010219800101002" + mod11_2("33010219800101002")


def clerk(ws: Workstation) -> Clerk:
    s = ws.settings
    return Clerk("clerk-0001", "张三", s.site_code, "01", s.window)


def test_an_enquiry_is_logged_with_who_answered_it_and_the_item_name(
        fresh_ws: Workstation) -> None:
    logged = fresh_ws.consultations.add(Enquiry(
        " 王小明 ", "开餐馆要办什么证？", "食品经营许可，材料见告知单", FOOD,
        phone="138 0013 8000", id_number=ID), clerk(fresh_ws), checklist=True)
    assert (logged.name, logged.phone, logged.id_number) == ("王小明", "13800138000", ID)
    assert (logged.item_code, logged.item_name) == (FOOD, "食品经营许可（新办）")
    assert (logged.clerk_name, logged.window, logged.checklist) == (
        "张三", fresh_ws.settings.window, True)
    assert logged.at.date() == dt.date.today()
    assert fresh_ws.consultations.find() == [logged]


def test_an_enquiry_opens_no_case_and_writes_no_event(fresh_ws: Workstation) -> None:
    fresh_ws.consultations.add(Enquiry("王小明", "营业时间？"), clerk(fresh_ws))
    with fresh_ws.db.read() as session:
        assert session.scalar(select(func.count()).select_from(CaseEventRow)) == 0
        assert session.scalar(select(func.count()).select_from(ConsultationRow)) == 1


def test_a_listing_masks_the_identity_number(fresh_ws: Workstation) -> None:
    logged = fresh_ws.consultations.add(Enquiry("王小明", "进度？", id_number=ID),
                                        clerk(fresh_ws))
    assert logged.masked_id == ID[:4] + "*" * 10 + ID[-4:]


def test_every_problem_of_an_entry_is_listed_and_nothing_is_logged(
        fresh_ws: Workstation) -> None:
    with pytest.raises(ConsultationError) as info:
        fresh_ws.consultations.add(Enquiry(
            "", "问" * 201, item_code="NO-SUCH-ITEM", phone="12345",
            id_type=IdType.RESIDENT_ID, id_number=ID[:-1] + ("0" if ID[-1] != "0" else "1")),
            clerk(fresh_ws))
    problems = info.value.problems
    assert problems[0] == "请填写姓名。"
    assert problems[1] == "咨询问题超过200字，请简要记录（一句话）。"
    assert problems[2].startswith("电话：") and problems[3].startswith("证件：")
    assert problems[4] == "目录中没有编码为“NO-SUCH-ITEM”的事项或一件事。"
    assert fresh_ws.consultations.find() == []


def test_the_list_filters_by_day_and_item_newest_first(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    food = fresh_ws.consultations.add(Enquiry("甲", "问一", item_code=FOOD), c)
    geti = fresh_ws.consultations.add(Enquiry("乙", "问二", item_code=GETI), c)
    none = fresh_ws.consultations.add(Enquiry("丙", "问三"), c)
    with fresh_ws.db.write() as session:   # an entry of yesterday
        row = session.get(ConsultationRow, food.id)
        assert row is not None
        row.day = dt.date.today() - dt.timedelta(days=1)
    assert [x.id for x in fresh_ws.consultations.find()] == [none.id, geti.id, food.id]
    assert [x.id for x in fresh_ws.consultations.find(day=dt.date.today())] == [
        none.id, geti.id]
    assert [x.id for x in fresh_ws.consultations.find(item_code=FOOD)] == [food.id]
    assert fresh_ws.consultations.find(day=dt.date.today(), item_code=FOOD) == []
    assert [x.id for x in fresh_ws.consultations.find(limit=1)] == [none.id]
