"""A case's evidence files: the assignee uploads them; whoever sees the case downloads them.

Files are served from outside the web root, as attachments with nosniff, never inline, and
only to the roles that see the case; every upload and download goes to the audit trail.
"""

from __future__ import annotations

import io

from flask import abort, flash, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.services.cases import evidence
from backend.storage.transactions import begin_write

from ..auth import login_required
from .cases import CASE_READERS, CASE_WRITERS, actor, visible
from .cases import case as case_page


@bp.route("/cases/<int:case_id>/evidence", methods=["POST"])
@login_required(CASE_WRITERS)
def case_evidence_upload(case_id: int) -> ResponseReturnValue:
    """Store one evidence file for a case the user handles; refusals store nothing."""
    begin_write(wiring.session())
    found = visible(case_id, lock=True)
    settings = wiring.evidence_settings()
    upload = request.files.get("file")
    row = None
    try:
        if upload is None:
            raise errors.InvalidInput("请选择要上传的文件", {"file": ["请选择要上传的文件"]})
        row = evidence.add_evidence(wiring.session(), found, actor(), wiring.now(), settings,
                                    upload.filename, upload.stream)
        wiring.session().commit()
    except (errors.Forbidden, errors.Conflict, errors.InvalidInput, errors.TooLarge) as exc:
        wiring.session().rollback()
        flash(exc.message, "warn")
        return case_page(case_id), STATUS[type(exc)]
    except Exception:
        wiring.session().rollback()
        if row is not None:
            evidence.discard(settings, row)
        raise
    flash(f"已上传材料：{row.filename}", "ok")
    return redirect(url_for("console.case", case_id=case_id)), 303


# A refused upload shows the case page again, with why, under the refusal's status.
STATUS = {errors.Forbidden: 403, errors.Conflict: 409, errors.InvalidInput: 422,
          errors.TooLarge: 413}


@bp.route("/cases/<int:case_id>/evidence/<int:file_id>")
@login_required(CASE_READERS)
def case_evidence(case_id: int, file_id: int) -> ResponseReturnValue:
    """Send one evidence file as an attachment to a user who sees the case; audited."""
    found = visible(case_id)
    try:
        row, path = evidence.open_evidence(wiring.session(), found, file_id, actor(), wiring.now(),
                                           wiring.evidence_settings())
    except errors.NotFound:
        abort(404)
    wiring.session().commit()
    # Read whole (at most CASE_EVIDENCE_MAX_BYTES): no file handle outlives the request.
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=evidence.media_type(row.kind),
                         as_attachment=True, download_name=row.filename, max_age=0,
                         conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
