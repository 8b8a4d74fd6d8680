"""Flask command groups of CONTRACT.md and more: `flask --app backend <group> <command>`.

One module per domain; each registers its own groups with `init_app(app)`.
"""

from __future__ import annotations

from flask import Flask

from backend.cli import admin, campaigns, demo, ledger, push, reports, scores

COMMAND_MODULES = (admin, demo, campaigns, push, scores, ledger, reports)


def init_app(app: Flask) -> None:
    """Register every command group."""
    for module in COMMAND_MODULES:
        module.init_app(app)
