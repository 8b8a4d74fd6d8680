"""Models by aggregate; importing this package registers every table on the metadata."""

from backend.models.alerts import Alert
from backend.models.clients import ApiClient, ConsoleUser
from backend.models.directory import Cadre, Unit
from backend.models.invitations import Invitation, ServiceEvent
from backend.models.mp import MpSession, MpSubscription
from backend.models.outbox import Delivery
from backend.models.templates import SurveyTemplate

__all__ = ["Alert", "ApiClient", "Cadre", "ConsoleUser", "Delivery", "Invitation", "MpSession",
           "MpSubscription", "ServiceEvent", "SurveyTemplate", "Unit"]
