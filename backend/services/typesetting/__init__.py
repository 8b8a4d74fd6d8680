"""Typesetting shared by every printed document: the embedded CJK font."""

from __future__ import annotations

from backend.services.typesetting.fonts import font_path, register_font

__all__ = ["font_path", "register_font"]
