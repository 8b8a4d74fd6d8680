"""Report jobs: print a unit's feedback reports into one PDF, showing progress as it goes."""

from __future__ import annotations

import logging

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.services.reports.printing import run_batch
from backend.services.typesetting.fonts import font_path, register_font

log = logging.getLogger(__name__)


def report_font() -> str:
    """Return the registered CJK font of printed reports (the slips' font)."""
    return register_font(font_path(current_app.config.get("SLIP_FONT_PATH")))


def print_batch(batch_id: int) -> None:
    """Build a report batch's PDF; idempotent once it is done."""
    batch = run_batch(db.session, batch_id, wiring.report_settings(), report_font(),
                      wiring.now())
    log.info("report batch %s: %s, %s officials", batch_id, batch.status, batch.total)
