"""The example rosters of docs/roster.md import as the document says."""

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backend.cli.campaigns import campaigns_cli
from backend.models import Cadre, Unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "roster.md"


def examples() -> dict[str, str]:
    """Return the document's CSV examples by file name."""
    return dict(re.findall(r"```csv (\S+)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S))


def test_the_documented_rosters_import_cleanly(app, runner, session, tmp_path):
    files = examples()
    assert set(files) == {"units.csv", "cadres.csv", "campaign.csv"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    for name in ("units.csv", "cadres.csv"):
        result = runner.invoke(args=["directory", "import", str(tmp_path / name)])
        assert result.exit_code == 0 and "新建 4" in result.output, result.output
    assert session.scalar(select(func.count()).select_from(Unit)) == 4
    assert session.scalar(select(Cadre.active).where(Cadre.code == "C009")) is False
    closes = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=7)).strftime(
        "%Y-%m-%dT%H:%M")
    made = runner.invoke(campaigns_cli, [
        "create", "2026-Q4-XZ", "--name", "城关镇领导班子民主测评", "--period", "2026-Q4",
        "--closes-at", closes, "--roster", str(tmp_path / "campaign.csv")])
    assert made.exit_code == 0 and "5 张测评票" in made.output, made.output
