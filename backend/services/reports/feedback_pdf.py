"""The feedback report (成绩清单 + 问题清单): one A4 page per official, printable, CJK embedded.

A page holds the headline and its kind, each group (an insufficient one as 样本不足 with its n
only), the problem list (negative tags of ok groups with their counts), the trend of six
months and four quarters, the standing as a percentile, a plain-Chinese reading and, when
asked for, the comments of groups that reached their minimum in their month. A unit's batch
is the same pages in one PDF.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from backend.services.reports.reading import reading
from backend.services.reports.wording import percent

MAX_COMMENTS = 8
COMMENT_CHARS = 120


@dataclass(frozen=True)
class Styles:
    """The paragraph styles of a report, in the embedded font."""

    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle


def styles(font: str) -> Styles:
    """Return the report's styles in a registered font (CJK line breaking on)."""
    base = {"fontName": font, "wordWrap": "CJK"}
    return Styles(ParagraphStyle("t", fontSize=15, leading=20, spaceAfter=2, **base),
                  ParagraphStyle("h", fontSize=11, leading=15, spaceBefore=5, spaceAfter=2,
                                 **base),
                  ParagraphStyle("b", fontSize=9, leading=12.5, **base),
                  ParagraphStyle("s", fontSize=7.5, leading=10, textColor=colors.grey, **base))


def grid(rows: list[list[Any]], widths: list[float], font: str) -> Table:
    """Return a small bordered table in the report's font."""
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 8.5),
                               ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return table


def group_rows(report: dict[str, Any]) -> list[list[str]]:
    """Return the groups as table rows; an insufficient group shows its n only."""
    rows = [["评价组", "有效评价", "去极值平均分", "95% 区间", "满意率", "不满意率"]]
    for g in report["groups"]:
        if g["status"] == "ok":
            ci = g.get("ci95")
            rows.append([g["name"], str(g["n"]), f"{g['trimmed_mean']:.2f}",
                         f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—",
                         percent(g["satisfaction"]), percent(g["dissatisfaction"])])
        else:
            rows.append([g["name"], str(g["n"]), g["text"], "—", "—", "—"])
    return rows


def trend_rows(report: dict[str, Any]) -> list[list[str]]:
    """Return the six months and four quarters as two rows of scores."""
    def cell(p: dict[str, Any]) -> str:
        value = p["headline"].get("score_100")
        return "不足" if value is None else f"{value:.1f}"

    months, quarters = report["trend"]["months"], report["trend"]["quarters"]
    return [[p["period"] for p in months], [cell(p) for p in months],
            [p["period"] for p in quarters] + [""] * (len(months) - len(quarters)),
            [cell(p) for p in quarters] + [""] * (len(months) - len(quarters))]


def headline_text(report: dict[str, Any]) -> str:
    """Return the headline with its kind."""
    head = report["headline"]
    if head.get("score_100") is None:
        return "本期得分：样本不足"
    return f"{report['headline_label']}：{head['score_100']:.2f} 分（百分制）"


def official_story(report: dict[str, Any], comments: list[dict[str, Any]] | None,
                   font: str) -> list:
    """Return one official's page as flowables."""
    s = styles(font)
    cadre = report["cadre"]
    problems = [["问题（标签）", "次数"]] + [[t["tag"], str(t["count"])]
                                       for t in report["tags"]["negative"]]
    praise = "、".join(f"{t['tag']}（{t['count']}）" for t in report["tags"]["positive"]) or "无"
    story = [
        Paragraph(escape(f"成绩清单与问题清单 · {report['period']}"), s.title),
        Paragraph(escape(f"{cadre['name']} · {cadre['position']} · {cadre['unit']['name']}"
                         f" · 干部编码 {cadre['code']}"), s.body),
        Paragraph(escape(headline_text(report)), s.heading),
        Paragraph("一、成绩清单", s.heading),
        grid(group_rows(report), [28 * mm, 18 * mm, 38 * mm, 28 * mm, 20 * mm, 20 * mm], font),
        Paragraph(escape(f"好评标签：{praise}"), s.body),
        Paragraph("二、问题清单", s.heading),
        grid(problems, [60 * mm, 20 * mm], font) if len(problems) > 1 else
        Paragraph("本期无达到样本要求的问题反映。", s.body),
        Paragraph("三、走势（近6个月、近4个季度）", s.heading),
        grid(trend_rows(report), [26 * mm] * 6, font),
        Paragraph("四、解读", s.heading),
        *[Paragraph(escape(f"· {line}"), s.body) for line in reading(report)],
    ]
    if comments:
        story.append(Paragraph("五、评价意见（仅达到最低样本数的评价组，不含评价人信息）",
                               s.heading))
        for c in comments[:MAX_COMMENTS]:
            cut = len(c["comment"]) > COMMENT_CHARS
            text = c["comment"][:COMMENT_CHARS] + ("…" if cut else "")
            story.append(Paragraph(escape(f"· {c['month']} {c['group_name']}：{text}"), s.body))
    story += [Spacer(1, 3 * mm), Paragraph(
        "说明：得分按本平台公开的计分方法计算（去掉两端各 5% 后平均）；人数未达最低样本数的评价组"
        "只列人数，不列分数、标签和意见。", s.small)]
    return [KeepTogether(story[:5]), *story[5:]]


def render_reports(items: Iterable[tuple[dict[str, Any], list[dict[str, Any]] | None]],
                   font: str, title: str = "成绩清单与问题清单",
                   progress: Callable[[int], None] | None = None) -> bytes:
    """Render one page per (report, comments) into one PDF; report progress per official."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm,
                                 topMargin=12 * mm, bottomMargin=12 * mm, title=title,
                                 author="随时评", subject=title)
    story: list = []
    for count, (report, comments) in enumerate(items, start=1):
        if story:
            story.append(PageBreak())
        story += official_story(report, comments, font)
        if progress:
            progress(count)
    if not story:
        story = [Paragraph("本单位没有在职干部。", styles(font).body)]
    document.build(story)
    return buffer.getvalue()
