"""Seed a demo county: units of several categories and about forty cadres (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.models import ConsoleUser
from backend.services.directory import CadreInput, UnitInput, upsert_cadre, upsert_unit

COUNTY = UnitInput("XZ000", "示范县委组织部", "department")
UNITS = (
    UnitInput("XZ100", "城关镇人民政府", "township", "XZ000"),
    UnitInput("XZ101", "青山乡人民政府", "township", "XZ000"),
    UnitInput("XZ102", "河口镇人民政府", "township", "XZ000"),
    UnitInput("XZ200", "县行政审批服务局", "department", "XZ000"),
    UnitInput("XZ201", "县市场监督管理局", "department", "XZ000"),
    UnitInput("XZ202", "县自然资源局", "department", "XZ000"),
    UnitInput("XZ203", "县人力资源和社会保障局", "department", "XZ000"),
    UnitInput("XZ300", "县政务服务中心", "institution", "XZ200"),
    UnitInput("XZ400", "城关镇东街社区", "village", "XZ100"),
    UnitInput("XZ401", "青山乡柳树村", "village", "XZ101"),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("建国", "秀英", "海燕", "志强", "丽娟", "文斌", "红梅", "国华", "晓东", "春花",
         "明", "静", "伟", "芳", "磊", "敏", "军", "洁", "勇", "艳")
POSITIONS = ("党委书记", "镇长", "副镇长", "局长", "副局长", "科长", "窗口负责人", "村支书")
DEMO_ADMIN = ("admin", "demo-admin-2026")


def demo_cadres(count: int = 40) -> list[CadreInput]:
    """Return a deterministic roster of cadres spread over the demo units."""
    roster = []
    for i in range(count):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]
        unit = UNITS[i % len(UNITS)]
        position = POSITIONS[i % len(POSITIONS)]
        roster.append(CadreInput(f"C{i + 1:03d}", name, unit.code, position))
    return roster


def seed(session: Session) -> tuple[str, str]:
    """Create or refresh the demo county; return the demo admin's credentials."""
    for unit in (COUNTY, *UNITS):
        upsert_unit(session, unit)
    for cadre in demo_cadres():
        upsert_cadre(session, cadre)
    username, password = DEMO_ADMIN
    if session.scalar(select(ConsoleUser).where(ConsoleUser.username == username)) is None:
        session.add(ConsoleUser(username=username, role="org_admin",
                                password_hash=generate_password_hash(password)))
    session.commit()
    return username, password
