"""QR codes of rating links: SVG for print, PNG for screens; drawn once per URL, then cached.

Error correction M with the standard four-module quiet zone: enough redundancy for a printed
code that gets scuffed, while a short URL keeps the code at version 4-5 and easy to scan.
"""

from __future__ import annotations

import functools
import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage

CACHE_SIZE = 2048
QUIET_ZONE = 4


def _draw(url: str, factory: type, box_size: int = 10) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE,
                         box_size=box_size, image_factory=factory)
    code.add_data(url)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


@functools.lru_cache(maxsize=CACHE_SIZE)
def qr_svg(url: str) -> bytes:
    """Draw the QR code of url as one SVG path on a white background."""
    # SvgPathImage with a white fill: a transparent code vanishes on dark-mode viewers.
    return _draw(url, SvgPathFillImage)


@functools.lru_cache(maxsize=CACHE_SIZE)
def qr_png(url: str, box_size: int = 10) -> bytes:
    """Draw the QR code of url as a 1-bit PNG with box_size pixels per module."""
    return _draw(url, PilImage, box_size)
