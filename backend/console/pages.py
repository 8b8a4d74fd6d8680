"""What a monitoring page shows, and its three faces: HTML, exports (XLSX, CSV) and JSON.

A builder returns a Page (cards, charts, tables); `register_page` serves it at its rule, at
`<rule>/export.xlsx|csv` (every export is audited) and at `/console/api<rule>` as JSON.
Pages showing rating-level or personal data name their kind: each view is audited too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from flask import g, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit

from .auth import current_user, login_required
from .exports import send_page


@dataclass
class Column:
    """A table column: kinds text, int, pct, score, date, datetime, progress."""
    key: str
    label: str
    kind: str = "text"
    target: int | None = None


@dataclass
class Table:
    """A table of rows (dicts); `links` maps a column to the row key holding its URL."""
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""
    sortable: bool = True
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class Chart:
    """A chart drawn by console.js from its data: trend, bars, funnel or stack."""
    id: str
    kind: str
    title: str
    data: dict[str, Any]


@dataclass
class Card:
    """A headline figure."""
    label: str
    value: str
    hint: str = ""
    tone: str = ""


@dataclass
class Page:
    """Everything a monitoring page shows."""
    title: str
    name: str
    subtitle: str = ""
    cards: list[Card] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """Return the page as JSON-ready data (dates as ISO strings)."""
        return plain(asdict(self))


def plain(value: Any) -> Any:
    """Turn dates and nested containers into JSON-ready values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def exporting() -> bool:
    """Tell whether the page is being built for an export (every row, no paging)."""
    return bool(g.get("console_exporting"))


def record_access(action: str, page: Page) -> None:
    """Write an audit entry for a view or export of a page; commit."""
    user = current_user()
    details = {"page": page.name, "query": request.args.to_dict(flat=True)}
    audit.record_now(wiring.session(), user.username, action,
                     (page.target or request.path)[:200], wiring.now(), details,
                     request.remote_addr)


def register_page(rule: str, endpoint: str, build: Callable[..., Page],
                  roles: Iterable[str], template: str = "console/report.html",
                  sensitive: str | None = None) -> None:
    """Serve a page at its rule, its exports and its JSON twin, for the given roles."""
    guard = login_required(roles)

    def html(**kwargs) -> ResponseReturnValue:
        page = build(**kwargs)
        if sensitive:
            record_access(f"view.{sensitive}", page)
        return render_template(template, page=page)

    def export(fmt: str, **kwargs) -> ResponseReturnValue:
        g.console_exporting = True
        page = build(**kwargs)
        response = send_page(page, fmt)
        record_access(f"export.{sensitive or page.name}", page)
        return response

    def api(**kwargs) -> ResponseReturnValue:
        page = build(**kwargs)
        if sensitive:
            record_access(f"view.{sensitive}", page)
        return jsonify(page.json())

    bp.add_url_rule(rule, endpoint, guard(html))
    bp.add_url_rule(rule.rstrip("/") + "/export.<any(xlsx, csv):fmt>", f"{endpoint}_export",
                    guard(export))
    bp.add_url_rule("/api" + (rule.rstrip("/") or "/overview"), f"api_{endpoint}", guard(api))
