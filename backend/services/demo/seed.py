"""Seed a demo county: its directory, console users of every role and six months of history.

`seed` creates the directory (units of several categories, about forty cadres) and the
organisation department's administrator; `seed_county` adds the console users of the other
roles and, once, six months of activity (backend/services/demo/history.py), then makes sure
a few rating links are open now (backend/services/demo/links.py). Both are idempotent: the
history is built by the first run only, recorded by an audit entry, and a later run finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.models import (
    Alert,
    AuditEntry,
    Campaign,
    ConsoleUser,
    Rating,
    ReviewItem,
    ScoreSnapshot,
    ServiceEvent,
    Unit,
)
from backend.models.alerts import OPEN
from backend.models.ledger import OPEN as REVIEW_OPEN
from backend.scoring.vocabulary import Vocabulary
from backend.services.accounts import audit
from backend.services.accounts.console_users import create_user
from backend.services.campaigns.progress import totals
from backend.services.demo.county import DemoContext, plan_county
from backend.services.demo.history import History
from backend.services.demo.links import LiveLink, ballot_link, live_links
from backend.services.demo.plan import SOURCE, Official, Roles
from backend.services.directory.units import CadreInput, UnitInput, upsert_cadre, upsert_unit
from backend.services.templates.catalogue import shipped_vocabulary

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
LEVELS = {"党委书记": "principal", "镇长": "principal", "副镇长": "deputy", "局长": "principal",
          "副局长": "deputy", "科长": "middle", "窗口负责人": "middle", "村支书": "staff"}
DEMO_ADMIN = ("admin", "demo-admin-2026")
# (username, role, unit, password): fixed, so that the README and the seed's output agree.
DEMO_USERS = (
    ("admin", "org_admin", None, "demo-admin-2026"),
    ("chengguan", "unit_admin", "XZ100", "demo-unit-2026"),
    ("auditor", "auditor", None, "demo-audit-2026"),
    ("viewer", "viewer", None, "demo-viewer-2026"),
    ("jijian", "discipline", None, "demo-jijian-2026"),
)
ROLE_NAMES = {"org_admin": "组织部管理员", "unit_admin": "单位管理员", "auditor": "审计员",
              "viewer": "只读用户", "discipline": "纪检监察"}
MARKER = "demo.seed"
ACTOR = "system:demo"
DEFAULT_CADRES = 40


@dataclass(frozen=True)
class Login:
    """A console login of the demo."""

    role: str
    username: str
    password: str
    unit: str | None = None

    @property
    def role_name(self) -> str:
        """Return the role's Chinese name."""
        return ROLE_NAMES[self.role]


@dataclass
class CountyReport:
    """What the demo county holds and how to get in."""

    built: bool  # whether this run built the history
    seeded_at: datetime
    details: dict
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[Login] = field(default_factory=list)
    links: list[LiveLink] = field(default_factory=list)
    ballot: LiveLink | None = None


def demo_cadres(count: int = DEFAULT_CADRES) -> list[CadreInput]:
    """Return a deterministic roster of cadres spread over the demo units."""
    roster = []
    for i in range(count):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]
        unit = UNITS[i % len(UNITS)]
        position = POSITIONS[i % len(POSITIONS)]
        roster.append(CadreInput(f"C{i + 1:03d}", name, unit.code, position,
                                 level=LEVELS[position]))
    return roster


def seed(session: Session, cadres: int = DEFAULT_CADRES,
         vocabulary: Vocabulary | None = None) -> tuple[str, str]:
    """Create or refresh the demo directory and its administrator; return the credentials.

    The demo's unit categories are the shipped ones unless a vocabulary is given.
    """
    for unit in (COUNTY, *UNITS):
        upsert_unit(session, unit, vocabulary or shipped_vocabulary())
    for cadre in demo_cadres(cadres):
        upsert_cadre(session, cadre)
    session.commit()
    ensure_users(session, DEMO_USERS[:1])
    return DEMO_ADMIN


def ensure_users(session: Session, users=DEMO_USERS) -> list[Login]:
    """Create the demo console users that do not exist yet; return every login."""
    for username, role, unit, password in users:
        if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)) is None:
            create_user(session, username, role, unit, password)
    return [Login(role, username, password, unit) for username, role, unit, password in users]


def officials(cadres: int) -> list[Official]:
    """Return the demo roster as the planner sees it."""
    categories = {u.code: u.category for u in UNITS}
    return [Official(c.code, c.name, categories[c.unit_code]) for c in demo_cadres(cadres)]


def marker(session: Session) -> AuditEntry | None:
    """Return the audit entry recording that the history was built, if it was."""
    return session.scalar(select(AuditEntry).where(AuditEntry.action == MARKER,
                                                   AuditEntry.actor == ACTOR).limit(1))


def build_history(session: Session, ctx: DemoContext, roster: list[Official]) -> AuditEntry:
    """Run six months of the county through the services and record that it was done."""
    if session.scalar(select(ServiceEvent.id).where(ServiceEvent.source == SOURCE).limit(1)):
        raise Conflict("演示数据不完整（上次生成被中断）：请清空数据库（嵌入模式下删除 "
                       "instance/suishiping.db），再运行 flask --app backend db upgrade "
                       "和 demo seed")
    plan = plan_county(roster, ctx)
    history = History(session, ctx, plan)
    history.run()
    details = {"start": plan.start.isoformat(), "officials": len(roster),
               "campaign": plan.campaign.code, "published": history.published,
               **dict(history.stats)}
    session.commit()
    entry = audit.record(session, ACTOR, MARKER, "demo:county", ctx.now, details)
    session.commit()
    return entry


def seed_county(session: Session, ctx: DemoContext,
                cadres: int = DEFAULT_CADRES) -> CountyReport:
    """Seed the directory, the console users and (once) the history; return the report.

    `cadres` sizes the county when its history is built; later runs keep the size it has.
    """
    entry = marker(session)
    size = (entry.details or {}).get("officials", cadres) if entry else cadres
    seed(session, size, ctx.catalogue.vocabulary)
    logins = ensure_users(session)
    roster, built = officials(size), entry is None
    if entry is None:
        entry = build_history(session, ctx, roster)
    details = dict(entry.details or {})
    roles = Roles.of([o.code for o in roster])
    report = CountyReport(built, entry.at, details, logins=logins)
    report.links = live_links(session, ctx, roles)
    report.ballot = ballot_link(session, ctx, details.get("campaign", ""))
    report.counts = county_counts(session)
    return report


def county_counts(session: Session) -> dict[str, int]:
    """Count what the county holds: units, events, ratings, periods, alerts, reviews."""
    def count(of, *where) -> int:
        return session.scalar(select(of).where(*where)) or 0

    invited, answered = 0, 0
    for pair in totals(session, list(session.scalars(select(Campaign.id)))).values():
        invited, answered = invited + pair[0], answered + pair[1]
    return {"units": count(func.count(Unit.id)),
            "events": count(func.count(ServiceEvent.id)),
            "ratings": count(func.count(Rating.id)),
            "periods": count(func.count(func.distinct(ScoreSnapshot.period))),
            "alerts": count(func.count(Alert.id), Alert.state == OPEN),
            "reviews": count(func.count(ReviewItem.id), ReviewItem.state == REVIEW_OPEN),
            "ballots": invited, "answered": answered}
