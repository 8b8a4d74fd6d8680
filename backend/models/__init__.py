"""Models by aggregate; importing this package registers every table on the metadata."""

from backend.models.alerts import Alert
from backend.models.appeals import Appeal
from backend.models.approvals import TwoPersonDecision
from backend.models.audit import AuditEntry
from backend.models.campaigns import BallotTarget, Campaign, CampaignRater, SlipPrint
from backend.models.cases import Case, CaseEvent, CaseEvidence, CaseNotice
from backend.models.clients import ApiClient, ConsoleSession, ConsoleUser
from backend.models.directory import Cadre, Unit
from backend.models.invitations import Invitation, ServiceEvent
from backend.models.ledger import LedgerCheckpoint, LedgerEntry, ReviewItem
from backend.models.mp import MpSession, MpSubscription
from backend.models.outbox import Delivery
from backend.models.ratings import (
    AbuseSignal,
    CampaignTurnout,
    FollowupContact,
    FunnelCount,
    OpenTag,
    PendingItem,
    Rating,
    RatingCount,
    RatingTagCount,
    UseTag,
)
from backend.models.reports import ReportBatch
from backend.models.rollups import (
    CadreDaily,
    CadreMonthly,
    DayTotal,
    RollupState,
    UnitDaily,
    UnitDay,
)
from backend.models.scores import ScoreSnapshot, WebhookMessage
from backend.models.templates import SurveyTemplate

__all__ = [
    "AbuseSignal",
    "Alert",
    "ApiClient",
    "Appeal",
    "AuditEntry",
    "BallotTarget",
    "Cadre",
    "CadreDaily",
    "CadreMonthly",
    "Campaign",
    "CampaignRater",
    "CampaignTurnout",
    "Case",
    "CaseEvent",
    "CaseEvidence",
    "CaseNotice",
    "ConsoleSession",
    "ConsoleUser",
    "DayTotal",
    "Delivery",
    "FollowupContact",
    "FunnelCount",
    "Invitation",
    "LedgerCheckpoint",
    "LedgerEntry",
    "MpSession",
    "MpSubscription",
    "OpenTag",
    "PendingItem",
    "Rating",
    "RatingCount",
    "RatingTagCount",
    "ReportBatch",
    "ReviewItem",
    "RollupState",
    "ScoreSnapshot",
    "ServiceEvent",
    "SlipPrint",
    "SurveyTemplate",
    "TwoPersonDecision",
    "Unit",
    "UnitDaily",
    "UnitDay",
    "UseTag",
    "WebhookMessage",
]
