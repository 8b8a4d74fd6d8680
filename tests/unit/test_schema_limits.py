"""The limits the API schemas declare are the real ones: the columns and the templates."""

import pytest
from marshmallow import validate

from backend.api.mp import SubscriptionsSchema
from backend.models import Cadre, Campaign, ServiceEvent, SurveyTemplate, Unit
from backend.models.campaigns import CampaignRater
from backend.models.mp import MpSubscription
from backend.models.ratings import RatingTagCount
from backend.models.scores import ScoreSnapshot
from backend.schemas.campaigns import (
    MAX_TARGETS,
    AssignmentSchema,
    CampaignCreateSchema,
    RaterSchema,
)
from backend.schemas.directory import CadreSchema, UnitSchema
from backend.schemas.events import EventSchema
from backend.schemas.ratings import RatingSubmissionSchema, TargetRatingSchema
from backend.schemas.scores import PublishSchema
from backend.schemas.templates import (
    CommentSchema,
    ScaleSchema,
    TagsSchema,
    TemplateFileSchema,
)
from backend.services.campaigns.rules import MAX_CAMPAIGN_NAME, MAX_NAME


def validators(schema, name: str, item: bool = False) -> list:
    """Return the validators of a bound field (of its items with `item`)."""
    bound = schema().fields[name]
    return (bound.inner if item else bound).validators


def longest(schema, name: str, item: bool = False) -> int:
    """Return the most characters (or items) a field accepts."""
    return min(v.max for v in validators(schema, name, item)
               if isinstance(v, validate.Length) and v.max is not None)


def bounds(schema, name: str) -> tuple:
    """Return the range a number field accepts."""
    (found,) = [v for v in validators(schema, name) if isinstance(v, validate.Range)]
    return found.min, found.max


@pytest.mark.parametrize(("schema", "name", "column"), [
    (UnitSchema, "name", Unit.name), (UnitSchema, "parent_code", Unit.code),
    (CadreSchema, "name", Cadre.name), (CadreSchema, "position", Cadre.position),
    (CadreSchema, "unit_code", Unit.code),
    (EventSchema, "source", ServiceEvent.source),
    (EventSchema, "external_id", ServiceEvent.external_id),
    (EventSchema, "event_type", ServiceEvent.event_type), (EventSchema, "cadre_code", Cadre.code),
    (CampaignCreateSchema, "code", Campaign.code), (CampaignCreateSchema, "name", Campaign.name),
    (CampaignCreateSchema, "template", SurveyTemplate.key),
    (RaterSchema, "code", CampaignRater.code), (RaterSchema, "name", CampaignRater.name),
    (AssignmentSchema, "group", CampaignRater.rater_group),
    (TargetRatingSchema, "target", Cadre.code),
], ids=lambda x: getattr(x, "__name__", None) or str(x))
def test_a_text_field_holds_exactly_what_its_column_holds(schema, name, column):
    assert longest(schema, name) == column.type.length


@pytest.mark.parametrize(("schema", "name", "item", "column"), [
    (CampaignCreateSchema, "period", False, Campaign.period),
    (PublishSchema, "period", False, ScoreSnapshot.period),
    (RatingSubmissionSchema, "tags", True, RatingTagCount.tag),
    (AssignmentSchema, "targets", True, Cadre.code),
    (SubscriptionsSchema, "accepted", True, MpSubscription.template_id),
])
def test_a_text_field_never_holds_more_than_its_column(schema, name, item, column):
    assert longest(schema, name, item) <= column.type.length


def test_names_are_limited_as_the_campaign_rules_limit_them():
    assert longest(CampaignCreateSchema, "name") == MAX_CAMPAIGN_NAME
    assert longest(RaterSchema, "name") == MAX_NAME


def test_a_comment_is_limited_to_the_longest_any_template_accepts():
    assert longest(RatingSubmissionSchema, "comment") == 500
    assert bounds(CommentSchema, "max_length")[1] == 500


def test_tags_scores_and_targets_are_limited_as_templates_and_ballots_are():
    assert longest(RatingSubmissionSchema, "tags", item=True) == longest(TagsSchema, "positive",
                                                                         item=True)
    assert longest(RatingSubmissionSchema, "tags") == bounds(TemplateFileSchema, "max_tags")[1]
    assert longest(TargetRatingSchema, "tags") == bounds(TemplateFileSchema, "max_tags")[1]
    assert bounds(RatingSubmissionSchema, "score") == (0, 100)
    assert bounds(TargetRatingSchema, "score") == (0, 100)
    assert ScaleSchema().validate({"min": 0, "max": 100}) == {}
    assert "max" in ScaleSchema().validate({"min": 0, "max": 101})
    assert longest(RatingSubmissionSchema, "ratings") == MAX_TARGETS
    assert longest(AssignmentSchema, "targets") == MAX_TARGETS
