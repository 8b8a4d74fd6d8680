"""Which links were used or opened, asked of keyed tags: invitations carry no such mark.

A use (and a first opening) is recorded as the HMAC of the invitation's token in a set of
its own (`invitation_use_tags`, `invitation_open_tags`), with keys outside the database
(RATING_SEAL_KEYS). The application asks about invitations it names; whoever reads the
database sees a set of tags that names none. Tags under every configured key count, so
rotating the keys loses no use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import OpenTag, UseTag
from backend.services.sealing.seal import Sealer

USE, OPEN = "use", "open"
CHUNK = 2000


def tagged(session: Session, sealer: Sealer, kind: str, tokens: Iterable[str]) -> set[str]:
    """Return those of the tokens whose use (or opening) tag is recorded."""
    model = UseTag if kind == USE else OpenTag
    wanted: dict[str, str] = {}
    for token in set(tokens):
        for tag in sealer.tags(kind, token):
            wanted[tag] = token
    found: set[str] = set()
    tags = list(wanted)
    for start in range(0, len(tags), CHUNK):
        found.update(session.scalars(select(model.tag)
                                     .where(model.tag.in_(tags[start:start + CHUNK]))))
    return {wanted[tag] for tag in found}


def used_tokens(session: Session, sealer: Sealer, tokens: Iterable[str]) -> set[str]:
    """Return the tokens (of invitations) that were used."""
    return tagged(session, sealer, USE, tokens)


def is_used(session: Session, sealer: Sealer, token: str) -> bool:
    """Tell whether one invitation was used."""
    return bool(used_tokens(session, sealer, [token]))


def unused(session: Session, sealer: Sealer, rows: Sequence, token=lambda r: r.token) -> list:
    """Keep the rows (invitations, or rows carrying a token) whose invitation is unused."""
    used = used_tokens(session, sealer, [token(row) for row in rows])
    return [row for row in rows if token(row) not in used]
