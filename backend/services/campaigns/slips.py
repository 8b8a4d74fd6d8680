"""Printed ballot slips: an A4 PDF, eight slips a page, each with its rater's QR code and link.

The ballot part names no rater: it says 测评不记名, and a name or code beside that would make
raters doubt it. The rater's code is printed only on a tear-off stub above a dashed line, for
the organiser to hand each slip to the right person and keep (or destroy) the stub.

The QR code is drawn as vector rectangles (sharp at any printer resolution, and no image to
encode per slip). Text uses a TrueType CJK font embedded as a subset, so the PDF prints the
same everywhere; Debian's fonts-wqy-microhei provides it (or set SLIP_FONT_PATH).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.models import Campaign, CampaignRater, Invitation
from backend.scoring.vocabulary import Vocabulary
from backend.services.invitations.tokens import TokenCodec
from backend.services.sealing import uses
from backend.services.sealing.seal import Sealer
from backend.services.typesetting.fonts import font_path, register_font

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
Progress = Callable[[int, int], None]  # (slips drawn, slips in all)
COLUMNS, ROWS = 2, 4
PAD = 5 * mm
QR_SIZE = 40 * mm
QUIET_GAP = 8 * mm  # from the link line: the QR code's quiet zone is 4 modules
STUB_LABEL = "存根（发票后沿虚线撕下，由组织者留存）"
INSTRUCTIONS = ("请用手机扫描二维码，或在浏览器中输入下方网址。",
                "对所列人员逐一评分（{low}–{high} 分），可选标签；不了解的可选“无法评价”。",
                "每张测评票仅可提交一次，提交后不能修改。",
                "测评不记名，评价内容不与您的姓名关联。本票请勿转交他人。",
                "截止时间：{deadline}")


@dataclass(frozen=True)
class Slip:
    """What one slip shows about its rater."""

    rater_code: str  # printed on the organiser's stub only
    group: str
    url: str


@dataclass(frozen=True)
class SlipSheet:
    """What every slip of a campaign shares."""

    campaign_name: str
    deadline: str
    scale: tuple[int, int] = (1, 10)


def qr_matrix(url: str) -> list[list[bool]]:
    """Return the QR code modules of a URL (error correction M, no quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def qr_operators(matrix: list[list[bool]]) -> str:
    """Return PDF operators filling the dark modules, one rectangle per horizontal run."""
    n, ops = len(matrix), []
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < n and row[c]:
                c += 1
            ops.append(f"{start} {n - 1 - r} {c - start} 1 re")
    return "\n".join(ops) + "\nf"


def draw_qr(canvas: Canvas, matrix: list[list[bool]], x: float, y: float, size: float) -> None:
    """Draw a QR code in module units (integers: cheap to write, exact to print)."""
    module = size / len(matrix)
    canvas.saveState()
    canvas.transform(module, 0, 0, module, x, y)
    canvas.addLiteral(qr_operators(matrix))
    canvas.restoreState()


def fit(text: str, font: str, size: float, width: float) -> str:
    """Cut text with an ellipsis so that it fits a width."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines of a width, character by character (Chinese has no spaces)."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, font, size) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


@dataclass(frozen=True)
class Layout:
    """Slip size and the instruction lines, computed once per document."""

    font: str
    width: float
    height: float
    lines: tuple[str, ...]


def layout(sheet: SlipSheet, font: str) -> Layout:
    """Size the slips for the page and wrap the shared instructions once."""
    width, height = A4[0] / COLUMNS, A4[1] / ROWS
    text_width = width - 3 * PAD - QR_SIZE
    low, high = sheet.scale
    lines = [line for n, item in enumerate(INSTRUCTIONS, start=1)
             for line in wrap(f"{n}. " + item.format(low=low, high=high, deadline=sheet.deadline),
                              font, 7.5, text_width)]
    return Layout(font, width, height, tuple(lines))


def draw_stub(canvas: Canvas, box: Layout, slip: Slip, x: float, top: float) -> None:
    """Draw the organiser's tear-off stub (the rater's code only) and its dashed tear line."""
    canvas.setFont(box.font, 7)
    canvas.setFillGray(0.35)
    canvas.drawString(x + PAD, top - 7, fit(f"{STUB_LABEL}　评价人编码 {slip.rater_code}",
                                            box.font, 7, box.width - 2 * PAD))
    canvas.setFillGray(0)
    canvas.saveState()
    canvas.setDash(1, 2)
    canvas.setLineWidth(0.4)
    canvas.line(x + PAD, top - 11, x + box.width - PAD, top - 11)
    canvas.restoreState()


def draw_slip(canvas: Canvas, sheet: SlipSheet, box: Layout, slip: Slip, x: float,
              y: float) -> None:
    """Draw one slip with its lower-left corner at (x, y)."""
    f, inner = box.font, box.width - 2 * PAD
    top = y + box.height - PAD
    draw_stub(canvas, box, slip, x, top)
    canvas.setFont(f, 11)
    canvas.drawString(x + PAD, top - 22, fit(sheet.campaign_name + " · 测评票", f, 11, inner))
    canvas.setFont(f, 8.5)
    canvas.drawString(x + PAD, top - 34, fit(f"评价人类别：{slip.group}", f, 8.5, inner))
    qr_y = y + PAD + QUIET_GAP
    draw_qr(canvas, qr_matrix(slip.url), x + PAD, qr_y, QR_SIZE)
    canvas.setFont(f, 7.5)
    text_x, line_y = x + 2 * PAD + QR_SIZE, qr_y + QR_SIZE - 7.5
    for line in box.lines:
        canvas.drawString(text_x, line_y, line)
        line_y -= 10.5
    size = 8.5
    while size > 5 and pdfmetrics.stringWidth("网址：" + slip.url, f, size) > inner:
        size -= 0.5
    canvas.setFont(f, size)
    canvas.drawString(x + PAD, y + PAD, "网址：" + slip.url)


def cut_lines(canvas: Canvas, box: Layout) -> None:
    """Draw dashed cutting lines between slips."""
    canvas.saveState()
    canvas.setDash(3, 3)
    canvas.setLineWidth(0.3)
    canvas.setStrokeGray(0.6)
    for c in range(1, COLUMNS):
        canvas.line(c * box.width, 0, c * box.width, A4[1])
    for r in range(1, ROWS):
        canvas.line(0, r * box.height, A4[0], r * box.height)
    canvas.restoreState()


def render_slips(sheet: SlipSheet, slips: Sequence[Slip], font_file: str,
                 progress: Progress | None = None) -> bytes:
    """Render slips eight to an A4 page, reporting (done, total) per page; return the PDF."""
    out, font = io.BytesIO(), register_font(font_file)
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font)
    canvas.setTitle(f"{sheet.campaign_name} 测评票")
    canvas.setAuthor("随时评")
    box = layout(sheet, font)
    per_page = COLUMNS * ROWS
    for n, slip in enumerate(slips):
        if n and n % per_page == 0:
            canvas.showPage()
            if progress:
                progress(n, len(slips))
        if n % per_page == 0:
            cut_lines(canvas, box)
        col, row = n % COLUMNS, (n % per_page) // COLUMNS
        draw_slip(canvas, sheet, box, slip, col * box.width, A4[1] - (row + 1) * box.height)
    canvas.save()
    if progress:
        progress(len(slips), len(slips))
    return out.getvalue()


def short_link(base_url: str, codec: TokenCodec, token: str) -> str:
    """Return the short link printed on a slip: <base>/r/<mini-program scene>."""
    return f"{base_url}/r/{codec.scene(token)}"


def deadline_text(moment: datetime, tz: tzinfo) -> str:
    """Render a closing time as 2026年12月31日 18:00."""
    local = moment.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def campaign_slips(session: Session, sealer: Sealer, campaign: Campaign, codec: TokenCodec,
                   base_url: str, tz: tzinfo, vocabulary: Vocabulary,
                   font_file: str | None = None,
                   progress: Progress | None = None) -> bytes:
    """Render a slip for each rater whose ballot is still open, in roster order."""
    rows = uses.unused(session, sealer, session.execute(
        select(CampaignRater.code, CampaignRater.rater_group,
               Invitation.token).join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(CampaignRater.campaign_id == campaign.id, Invitation.revoked_at.is_(None))
        .order_by(CampaignRater.id)).all())
    if not rows:
        raise Conflict("没有待打印的测评票（都已提交或已失效）")
    scale = campaign.template.definition["scale"]
    sheet = SlipSheet(campaign.name, deadline_text(campaign.closes_at, tz),
                      (scale["min"], scale["max"]))
    slips = [Slip(code, vocabulary.group_name(group), short_link(base_url, codec, token))
             for code, group, token in rows]
    return render_slips(sheet, slips, font_path(font_file), progress)
