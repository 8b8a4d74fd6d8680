"""The CJK font every printed PDF embeds (ballot slips, feedback reports).

A TrueType CJK font embedded as a subset prints the same everywhere; Debian's
fonts-wqy-microhei provides it (or set SLIP_FONT_PATH).
"""

from __future__ import annotations

import functools
import hashlib
import os

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from backend.errors import Unavailable

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def font_path(configured: str | None = None) -> str:
    """Return the CJK TrueType font to embed, or raise Unavailable naming the package."""
    for path in ([configured] if configured else FONT_CANDIDATES):
        if path and os.path.isfile(path):
            return path
    raise Unavailable("未找到可嵌入的中文字体：请安装 Debian 软件包 fonts-wqy-microhei，"
                      "或用 SLIP_FONT_PATH 指定 TrueType（.ttf/.ttc）字体文件")


@functools.lru_cache(maxsize=4)
def register_font(path: str) -> str:
    """Register a TrueType font once per process; return its reportlab name."""
    name = "SlipCJK-" + hashlib.sha256(path.encode()).hexdigest()[:8]
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    return name
