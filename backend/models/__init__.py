"""Models by aggregate; importing this package registers every table on the metadata."""

from backend.models.clients import ApiClient, ConsoleUser
from backend.models.directory import Cadre, Unit
from backend.models.templates import SurveyTemplate

__all__ = ["ApiClient", "Cadre", "ConsoleUser", "SurveyTemplate", "Unit"]
