"""What a rater is shown about an invitation (shared by the page and the JSON API)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from backend.models import Invitation
from backend.services.ratings.rules import targets_of


def template_view(invitation: Invitation) -> dict:
    """Render the parts of the template a rating front end needs."""
    d = invitation.template.definition
    tags = ([{"label": t, "polarity": "positive"} for t in d["tags"]["positive"]]
            + [{"label": t, "polarity": "negative"} for t in d["tags"]["negative"]])
    return {"key": invitation.template.key, "version": invitation.template.version,
            "name": d["name"], "scale": d["scale"], "tags": tags,
            "tag_display": d["tag_display"], "max_tags": d["max_tags"],
            "comment": d["comment"], "followup": d["followup"],
            "allow_abstain": d.get("allow_abstain", False), "texts": d["texts"]}


def invitation_view(invitation: Invitation, tz: ZoneInfo) -> dict:
    """Render an open invitation for the rater: who is rated, for what, and how."""
    definition = invitation.template.definition
    event_type = invitation.event_type
    type_name = definition.get("event_types", {}).get(event_type, {}).get("name")
    return {"status": "open", "kind": invitation.kind,
            "event_type": event_type, "event_type_name": type_name,
            "expires_at": invitation.expires_at.astimezone(tz).isoformat(timespec="seconds"),
            "template": template_view(invitation),
            "targets": [{"code": c.code, "name": c.name, "unit": c.unit.name,
                         "position": c.position, "kind": c.kind}
                        for c, _group in targets_of(invitation)]}
