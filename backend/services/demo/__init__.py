"""The demo county: planned ahead, then carried out through the real services."""

from __future__ import annotations

from backend.services.demo.county import DemoContext
from backend.services.demo.seed import seed_county

__all__ = [
    "DemoContext", "seed_county",
]
