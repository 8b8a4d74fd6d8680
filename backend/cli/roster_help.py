"""The roster columns in the `--help` of the import commands, built from the importers' tables.

The headers each importer accepts come from its own COLUMNS table, so the help cannot drift
from what is read; the notes say what a cell may hold. docs/roster.md has the same, with
examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from backend.scoring.vocabulary import POSITION_LEVELS
from backend.services.campaigns import roster as campaign_roster
from backend.services.directory import roster_import as directory_import
from backend.services.templates.catalogue import shipped_vocabulary

DIRECTORY_NOTES = {
    "units": {
        "code": "单位编码：字母、数字、点、横线、下划线，至多 64 个字符",
        "name": "单位名称，至多 200 个字",
        "category": "类别（模板目录 settings/unit_categories.yaml 所配置的；随产品提供的有："
                    + shipped_vocabulary().category_choices() + "），代码、中文名称或别名均可",
        "parent_code": "上级单位编码；可为空；上级可在同一文件中（顺序不限）",
    },
    "cadres": {
        "code": "干部编码：字母、数字、点、横线、下划线，至多 64 个字符",
        "name": "姓名，至多 100 个字",
        "unit_code": "所在单位编码（须已存在或在同一文件的单位表中）",
        "position": "职务，至多 200 个字",
        "active": "是否在职：是/否、在职/离任、1/0、true/false；留空为在职",
        "level": "职级（可选）：" + "、".join(f"{k}（{v}）" for k, v in POSITION_LEVELS.items())
                 + "，英文或中文均可；留空为未设置；没有这一列时保留原职级",
    },
}
CAMPAIGN_NOTES = {
    "code": "评价人编码：字母、数字、点、横线、下划线，至多 64 个字符；同一测评中不重复",
    "name": "评价人姓名，至多 100 个字",
    "phone": "11 位手机号（可选，用于短信提醒；可带 +86、空格或横线）",
    "group": "评价人群体（settings/rater_groups.yaml 所配置的；随产品提供的有："
             + shipped_vocabulary().group_choices()
             + "），代码、中文名称或别名均可（须为模板允许的）",
    "targets": "被评价干部编码，或单位领导班子 班子:单位编码（也可写 team:单位编码），"
               "以顿号、逗号、分号或空格分隔；评价人本人自动去除",
}


def columns_block(title: str, columns: Mapping[str, Sequence[str]], required: Sequence[str],
                  notes: Mapping[str, str]) -> str:
    """Return one table's columns as an unwrapped help paragraph."""
    lines = ["\b", f"{title}（* 为必填；表头可用下列任一写法，英文或中文）："]
    for name, aliases in columns.items():
        mark = "*" if name in required else " "
        lines.append(f"  {mark} {name}：{' / '.join(aliases)}")
        lines.append(f"      {notes[name]}")
    return "\n".join(lines)


def directory_import_help() -> str:
    """Return the help of `directory import`: the file formats and both tables' columns."""
    return "\n\n".join([
        "Import a CSV or XLSX roster of units or cadres.",
        "文件：CSV（UTF-8，可带 BOM；或 GB18030）或 XLSX；第一行为表头。XLSX 可含多张表，"
        "表名为 units/单位 或 cadres/干部，否则按表头识别。有错误的文件不写入任何内容，"
        "除非 --skip-invalid；--dry-run 只检查，有任何错误行时退出码为 1。详见 docs/roster.md。",
        columns_block("单位表（units）", directory_import.COLUMNS["units"],
                      directory_import.REQUIRED["units"], DIRECTORY_NOTES["units"]),
        columns_block("干部表（cadres）", directory_import.COLUMNS["cadres"],
                      directory_import.REQUIRED["cadres"], DIRECTORY_NOTES["cadres"]),
    ])


def campaign_roster_help(summary: str) -> str:
    """Return the help of a campaign command that reads a roster: the roster's columns."""
    return "\n\n".join([
        summary,
        "名单文件：CSV（UTF-8，可带 BOM；或 GB18030）或 XLSX（第一张非空工作表）；第一行为表头，"
        "每行一位评价人。--dry-run 只检查，有任何错误行时退出码为 1。详见 docs/roster.md。",
        columns_block("测评名单", campaign_roster.COLUMNS, campaign_roster.REQUIRED,
                      CAMPAIGN_NOTES),
    ])
