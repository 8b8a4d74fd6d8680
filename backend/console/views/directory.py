"""单位与干部: the unit tree and its officials; create, edit, transfer, deactivate; upload a roster.

The organisation department keeps the directory here; every change goes through
backend/services/directory/management.py, which audits it. A refused form (bad code, unknown
unit, a loop of parents) answers 422 with the reason in Chinese and changes nothing.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.errors import InvalidInput
from backend.services.directory import POSITION_LEVELS, management
from backend.services.directory.units import CadreInput, UnitInput

from ..access import ORG
from ..auth import login_required
from ..blueprint import bp
from ..filters import id_arg, text_arg
from .common import recorder

UPLOAD_MAX = 2 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH answers 413 beyond it too
IMPORT_MODES = {"preview": "仅预览，不写入", "valid": "只导入有效的行，跳过有错误的行",
                "all": "全部有效才导入，有任何错误则不导入"}
OUTCOMES = {"created": "新增", "updated": "更新", "invalid": "有错误"}


def field(name: str, limit: int = 200) -> str:
    """Return a form field, stripped and cut to a length no column exceeds."""
    return request.form.get(name, "").strip()[:limit]


@bp.route("/directory")
@login_required(ORG)
def directory() -> ResponseReturnValue:
    """Show the unit tree, the chosen unit's officials and the forms that change them."""
    unit_id, query = id_arg("unit"), text_arg("q", 50)
    edit_unit, edit_official = id_arg("edit"), id_arg("official")
    tree = management.unit_tree(wiring.session())
    chosen = management.find_unit(wiring.session(), unit_id) if unit_id else None
    people = (management.officials(wiring.session(), unit_id, query) if unit_id or query else [])
    return render_template(
        "console/directory.html", tree=tree, chosen=chosen, officials=people, query=query,
        unit_form=management.find_unit(wiring.session(), edit_unit) if edit_unit else None,
        official_form=(management.find_official(wiring.session(), edit_official)
                       if edit_official else None),
        categories={code: c.name for code, c in wiring.vocabulary().categories.items()},
        levels=POSITION_LEVELS)


@bp.route("/directory/units", methods=["POST"])
@login_required(ORG)
def save_unit() -> ResponseReturnValue:
    """Create or edit a unit (by its code)."""
    data = UnitInput(code=field("code", 64), name=field("name"),
                     category=field("category", 32),
                     parent_code=field("parent_code", 64) or None)
    created = management.save_unit(wiring.session(), data, wiring.vocabulary(), recorder())
    flash(f"已{'新建' if created else '修改'}单位 {data.name}（{data.code}）", "ok")
    return redirect(url_for("console.directory"), 303)


@bp.route("/directory/officials", methods=["POST"])
@login_required(ORG)
def save_official() -> ResponseReturnValue:
    """Create or edit an official (by code); a new official is in office."""
    data = CadreInput(code=field("code", 64), name=field("name", 100),
                      unit_code=field("unit_code", 64), position=field("position"),
                      active=request.form.get("active", "1") != "0", level=field("level", 20))
    created = management.save_official(wiring.session(), data, recorder())
    flash(f"已{'新增' if created else '修改'}干部 {data.name}（{data.code}）", "ok")
    return redirect(url_for("console.directory", q=data.code), 303)


@bp.route("/directory/officials/<int:cadre_id>/transfer", methods=["POST"])
@login_required(ORG)
def transfer_official(cadre_id: int) -> ResponseReturnValue:
    """Move an official to another unit."""
    code = field("unit_code", 64)
    if not code:
        raise InvalidInput("请选择调入单位", {"unit_code": "调入单位不能为空"})
    name = management.transfer_official(wiring.session(), cadre_id, code, recorder())
    flash(f"已调动至 {name}", "ok")
    return redirect(url_for("console.directory", unit=request.form.get("back_unit") or None),
                    303)


@bp.route("/directory/officials/<int:cadre_id>/<any(deactivate, activate):action>",
          methods=["POST"])
@login_required(ORG)
def official_state(cadre_id: int, action: str) -> ResponseReturnValue:
    """Mark an official as left office (离任) or back in office."""
    done = management.set_official_active(wiring.session(), cadre_id, action == "activate",
                                          recorder())
    flash(("已恢复在职" if action == "activate" else "已标记离任") if done else "状态未变化",
          "ok" if done else "warn")
    return redirect(url_for("console.directory", unit=request.form.get("back_unit") or None),
                    303)


@bp.route("/directory/import", methods=["GET", "POST"])
@login_required(ORG)
def directory_import() -> ResponseReturnValue:
    """Upload a CSV or XLSX roster: preview each row, then import the valid rows or nothing."""
    if request.method == "GET":
        return render_template("console/directory_import.html", report=None, modes=IMPORT_MODES,
                               mode="preview", outcomes=OUTCOMES)
    upload, mode = request.files.get("file"), request.form.get("mode", "preview")
    if upload is None or not upload.filename:
        raise InvalidInput("请选择要上传的 CSV 或 XLSX 文件", {"file": "未选择文件"})
    data = upload.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        raise InvalidInput("文件超过 2 MB，请分批上传", {"file": "文件过大"})
    report = management.import_upload(wiring.session(), upload.filename[:200], data, mode,
                                      wiring.vocabulary(), recorder())
    return render_template("console/directory_import.html", report=report, modes=IMPORT_MODES,
                           mode=mode, outcomes=OUTCOMES, filename=upload.filename[:200])
