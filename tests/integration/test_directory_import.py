"""Roster import: CSV and XLSX, Chinese headers, a report per bad row, all-or-nothing."""

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from backend.models import Cadre, Unit

UNITS_CSV = "编码,名称,类别,上级编码\nX0,示范县委组织部,县直部门,\nX1,城关镇,乡镇,X0\n"
CADRES_CSV = ("干部编码,姓名,单位编码,职务,在职\nC1,王建国,X1,镇长,是\n"
              "C2,李秀英,X1,副镇长,否\n")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_excel_csv_with_bom_and_chinese_headers_imports(app, runner, session, tmp_path):
    units = runner.invoke(args=["directory", "import", str(write(tmp_path, "u.csv", UNITS_CSV))])
    assert units.exit_code == 0, units.output
    cadres = runner.invoke(args=["directory", "import",
                                 str(write(tmp_path, "c.csv", CADRES_CSV))])
    assert cadres.exit_code == 0, cadres.output
    assert "新建 2" in cadres.output
    wang = session.scalar(select(Cadre).where(Cadre.code == "C1"))
    assert (wang.name, wang.unit.name, wang.active) == ("王建国", "城关镇", True)
    assert session.scalar(select(Cadre.active).where(Cadre.code == "C2")) is False


def test_reform_categories_and_levels_import_by_their_chinese_names(app, runner, session,
                                                                    tmp_path):
    units = ("编码,名称,类别,上级编码\nX0,县委组织部,党群政务类,\n"
             "X2,青山乡,生态功能类乡镇,X0\nX3,县执法局,执法监督,X0\n")
    cadres = "干部编码,姓名,单位编码,职务,职级\nC5,周强,X2,乡长,正职\nC6,吴芳,X3,副局长,副职\n"
    for name, text in (("u.csv", units), ("c.csv", cadres)):
        result = runner.invoke(args=["directory", "import", str(write(tmp_path, name, text))])
        assert result.exit_code == 0, result.output
    assert dict(session.execute(select(Unit.code, Unit.category)).all()) == {
        "X0": "dept_party_affairs", "X2": "town_ecology", "X3": "dept_enforcement"}
    assert dict(session.execute(select(Cadre.code, Cadre.level)).all()) == {
        "C5": "principal", "C6": "deputy"}


def test_gb18030_csv_from_older_excel_imports(app, runner, session, tmp_path):
    path = write(tmp_path, "u.csv", UNITS_CSV, encoding="gb18030")
    assert runner.invoke(args=["directory", "import", str(path)]).exit_code == 0
    assert session.scalar(select(Unit.name).where(Unit.code == "X1")) == "城关镇"


def test_child_listed_before_its_parent_still_imports(app, runner, session, tmp_path):
    text = "code,name,category,parent_code\nK2,柳树村,village,K1\nK1,青山乡,township,\n"
    result = runner.invoke(args=["directory", "import", str(write(tmp_path, "u.csv", text))])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Unit).where(Unit.code == "K2")).parent.code == "K1"


def test_file_with_errors_changes_nothing_and_reports_each_row(app, runner, session, tmp_path):
    text = ("code,name,category,parent_code\nA1,甲,township,\nA2,,township,\n"
            "A3,丙,castle,\nA4,丁,township,GHOST\nA1,重复,township,\n")
    result = runner.invoke(args=["directory", "import", str(write(tmp_path, "u.csv", text))])
    assert result.exit_code == 1
    assert "第 3 行，列 name" in result.output
    assert "第 4 行，列 category" in result.output
    assert "第 5 行，列 parent_code" in result.output
    assert "第 6 行，列 code" in result.output
    assert count(session, Unit) == 0


def test_skip_invalid_imports_the_good_rows(app, runner, session, tmp_path):
    text = "code,name,category\nA1,甲,township\nA2,乙,castle\n"
    result = runner.invoke(args=["directory", "import", "--skip-invalid",
                                 str(write(tmp_path, "u.csv", text))])
    assert result.exit_code == 0
    assert "第 3 行，列 category" in result.output
    assert list(session.scalars(select(Unit.code))) == ["A1"]


def test_dry_run_reports_but_writes_nothing(app, runner, session, tmp_path):
    result = runner.invoke(args=["directory", "import", "--dry-run",
                                 str(write(tmp_path, "u.csv", UNITS_CSV))])
    assert result.exit_code == 0
    assert "试运行" in result.output and "新建 2" in result.output
    assert count(session, Unit) == 0


def test_dry_run_with_a_bad_row_exits_1_after_printing_the_report(app, runner, session,
                                                                  tmp_path):
    text = "code,name,category\nA1,甲,township\nA2,乙,castle\n"
    for options in (["--dry-run"], ["--dry-run", "--skip-invalid"]):
        result = runner.invoke(args=["directory", "import", *options,
                                     str(write(tmp_path, "u.csv", text))])
        assert result.exit_code == 1, options
        assert "第 3 行，列 category" in result.output and "试运行" in result.output
    assert count(session, Unit) == 0


def test_xlsx_with_unit_and_cadre_sheets_imports_in_one_go(app, runner, session, tmp_path):
    book = Workbook()
    units = book.active
    units.title = "单位"
    for row in (["编码", "名称", "类别", "上级编码"], ["X0", "组织部", "department", None],
                ["X1", "河口镇", "township", "X0"]):
        units.append(row)
    cadres = book.create_sheet("干部")
    for row in (["编码", "姓名", "单位编码", "职务"], ["C7", "赵海燕", "X1", "党委书记"],
                ["C8", "孙志强", "NOPE", "镇长"]):
        cadres.append(row)
    path = tmp_path / "roster.xlsx"
    book.save(path)
    failed = runner.invoke(args=["directory", "import", str(path)])
    assert failed.exit_code == 1
    assert "干部 第 3 行，列 unit_code" in failed.output
    assert count(session, Unit) == 0
    done = runner.invoke(args=["directory", "import", "--skip-invalid", str(path)])
    assert done.exit_code == 0
    assert session.scalar(select(Cadre.name).where(Cadre.code == "C7")) == "赵海燕"


def test_missing_columns_are_named(app, runner, tmp_path):
    result = runner.invoke(args=["directory", "import",
                                 str(write(tmp_path, "u.csv", "code,name\nA,B\n"))])
    assert result.exit_code == 1
    assert "category" in result.output


@pytest.mark.parametrize("name", ["roster.txt", "roster.xlsx"])
def test_unreadable_file_is_refused_clearly(app, runner, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 not a roster")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 1
    assert "错误" in result.output


def test_help_lists_every_column_of_both_tables(runner):
    from backend.services.directory.roster_import import COLUMNS

    shown = runner.invoke(args=["directory", "import", "--help"]).output
    assert "docs/roster.md" in shown
    for columns in COLUMNS.values():
        for name, aliases in columns.items():
            assert all(alias in shown for alias in aliases), name
