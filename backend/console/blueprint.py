"""The console's blueprint, which every page module registers its routes on."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", "backend.console", url_prefix="/console", template_folder="templates")
