"""Who may open what: the role sets the console's routes are guarded with.

| pages                                               | org_admin | unit_admin | viewer | auditor |
|-----------------------------------------------------|-----------|------------|--------|---------|
| overview, units, officials, breakdown, funnel       | yes       | subtree    | yes    | no      |
| campaigns, alerts (list)                            | yes       | subtree    | yes    | no      |
| run campaigns: new, roster, slips, remind, extend,  | yes       | no         | no     | no      |
|   close, cancel                                     |           |            |        |         |
| acknowledge / resolve alerts                        | yes       | subtree    | no     | no      |
| scores and push status / publish, replay            | yes / yes | no         | yes/no | no      |
| comments, follow-ups, non-responders, unmask phone  | yes       | no         | no     | no      |
| audit trail, rating ledger: browse, export, verify  | no        | no         | no     | yes     |
| appeals list (申诉复核)                             | yes       | subtree    | yes    | no      |
| file an appeal on a case / decide one               | no / yes  | yes / no   | no     | no      |
| fraud review (防刷复核): read / decide              | yes / yes | no         | no     | yes / no|

Outside their subtree a unit admin gets 404, as if the unit did not exist. Exports and the
JSON API under /console/api follow their page.
"""

from __future__ import annotations

from flask import Flask

READERS = ("org_admin", "unit_admin", "viewer")
ORG_READERS = ("org_admin", "viewer")
WRITERS = ("org_admin", "unit_admin")
ORG = ("org_admin",)
AUDITORS = ("auditor",)


def access_table(app: Flask) -> dict[str, frozenset[str] | None]:
    """Return the roles allowed per console endpoint (None: open without sign-in)."""
    table = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console."):
            view = app.view_functions[rule.endpoint]
            table[rule.endpoint] = getattr(view, "console_roles", frozenset())
    return table
