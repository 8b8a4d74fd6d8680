"""Cases (整改单): every bad rating gets an owner, a deadline and an answer the rater can see.

Public use cases:
- opening: `open_for_ratings` (at release), `open_for_flagged_alerts` (after publication)
- flow: `accept`, `submit`, `approve`, `send_back`, `set_due`, `record_verdict`
- the clock: `watch.run` (overdue escalation, 回头看)
- reports: `file_report` (a rater's report of retaliation or pressure, to 纪检 only)
- views: `list_cases`, `api_case`, `case_detail`, `receipt_case`
- the words of cases and appeals (statuses, reasons, call-back outcomes) for the entry points
- evidence: `add_evidence`, `open_evidence` (files outside the web root, audited)
- notices: `notify` (console notices and SMS / WeChat messages to assignees), `unread_count`,
  `recent_notices`, `mark_read`, `set_contact`
"""

from backend.models.appeals import APPEAL_REASONS, APPEAL_STATUSES, CONFIRMING, PENDING
from backend.models.cases import CALLBACK_OUTCOMES, NOTICE_KINDS, REPORT_KINDS, STATUSES
from backend.services.cases.evidence import EvidenceSettings, add_evidence, open_evidence
from backend.services.cases.flow import (
    Actor,
    accept,
    approve,
    get_case,
    record_verdict,
    send_back,
    set_due,
    submit,
)
from backend.services.cases.notices import (
    mark_read,
    notify,
    recent_notices,
    set_contact,
    unread_count,
)
from backend.services.cases.opening import (
    CaseRules,
    open_for_flagged_alerts,
    open_for_flags,
    open_for_ratings,
)
from backend.services.cases.reports import file_report
from backend.services.cases.views import (
    api_case,
    case_detail,
    case_for_receipt,
    list_cases,
    receipt_case,
)
from backend.services.cases.workdays import WorkCalendar, load_calendar

__all__ = [
    "APPEAL_REASONS",
    "APPEAL_STATUSES",
    "CALLBACK_OUTCOMES",
    "CONFIRMING",
    "NOTICE_KINDS",
    "PENDING",
    "REPORT_KINDS",
    "STATUSES",
    "Actor",
    "CaseRules",
    "EvidenceSettings",
    "WorkCalendar",
    "accept",
    "add_evidence",
    "api_case",
    "approve",
    "case_detail",
    "case_for_receipt",
    "file_report",
    "get_case",
    "list_cases",
    "load_calendar",
    "mark_read",
    "notify",
    "open_evidence",
    "open_for_flagged_alerts",
    "open_for_flags",
    "open_for_ratings",
    "receipt_case",
    "recent_notices",
    "record_verdict",
    "send_back",
    "set_contact",
    "set_due",
    "submit",
    "unread_count",
]
