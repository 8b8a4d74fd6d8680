"""Evidence files of a case: what the assignee attaches to show the measures taken.

The type is read from the file's first bytes (a renamed script is refused whatever its name),
the size is counted while reading (never trusting a declared length), and the bytes are
written outside the web root under a random name; the original name is kept only to label the
download. Every upload and every download is audited. Nothing is stored when refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from backend.models.cases import IN_PROGRESS, Case, CaseEvidence
from backend.services.accounts import audit
from backend.services.cases.flow import Actor, owns

# Each kind: the magic bytes that open such a file, the names it may carry, its media type.
KINDS = {"jpg": (b"\xff\xd8\xff", (".jpg", ".jpeg"), "image/jpeg"),
         "png": (b"\x89PNG\r\n\x1a\n", (".png",), "image/png"),
         "pdf": (b"%PDF-", (".pdf",), "application/pdf")}
KIND_LABELS = {"jpg": "JPG 图片", "png": "PNG 图片", "pdf": "PDF 文档"}
MAX_FILES = 20
MAX_NAME = 100
CHUNK = 64 * 1024
STORED_NAME = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class EvidenceSettings:
    """Where evidence is kept and what is accepted (CASE_EVIDENCE_* settings)."""

    directory: Path
    max_bytes: int = 10 * 1024 * 1024
    kinds: Collection[str] = ("jpg", "png", "pdf")

    def allowed(self) -> str:
        """Return the accepted kinds in Chinese, for messages."""
        return "、".join(KIND_LABELS.get(k, k) for k in self.kinds)


def add_evidence(session: Session, case: Case, actor: Actor, now: datetime,
                 settings: EvidenceSettings, filename: str | None,
                 stream: BinaryIO) -> CaseEvidence:
    """Store one file for a case the actor handles (整改中); audited; the caller commits."""
    if not owns(actor, case):
        raise Forbidden("只有承办单位可以上传整改材料")
    if case.status != IN_PROGRESS:
        raise Conflict("整改单受理后、提交验收前才能上传整改材料")
    count = session.scalar(select(func.count()).select_from(CaseEvidence)
                           .where(CaseEvidence.case_id == case.id))
    if count >= MAX_FILES:
        raise Conflict(f"每件整改单最多上传 {MAX_FILES} 个材料")
    name = clean_name(filename)
    data = read_limited(stream, settings.max_bytes)
    kind = sniff(data, name, settings)
    stored = secrets.token_hex(16)
    write_file(settings.directory, stored, data)
    row = CaseEvidence(case_id=case.id, stored_name=stored, filename=name, kind=kind,
                       size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       uploaded_by=actor.name, uploaded_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor.name, "case.evidence.upload", f"case:{case.id}", now,
                 {"evidence": row.id, "kind": kind, "size": len(data)}, actor.address)
    return row


def clean_name(filename: str | None) -> str:
    """Return the file's base name without control characters or paths; refuse an empty one."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if not name:
        raise InvalidInput("请选择要上传的文件", {"file": ["请选择要上传的文件"]})
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 \
            else name[:MAX_NAME]
    return name


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """Read the upload, refusing it as soon as it passes the limit (413)."""
    parts, size = [], 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"文件过大：最大 {max_bytes // (1024 * 1024) or 1} MB",
                           {"file": [f"文件不能超过 {max_bytes} 字节"]})
        parts.append(chunk)
    if not size:
        raise InvalidInput("文件为空", {"file": ["文件为空"]})
    return b"".join(parts)


def sniff(data: bytes, name: str, settings: EvidenceSettings) -> str:
    """Return the file's kind from its first bytes; its name must agree (422 otherwise)."""
    found = next((k for k, (magic, _n, _t) in KINDS.items() if data.startswith(magic)), None)
    suffix = os.path.splitext(name)[1].lower()
    if found is None or found not in settings.kinds or suffix not in KINDS[found][1]:
        raise InvalidInput(f"不支持的文件类型：只接受 {settings.allowed()}",
                           {"file": [f"只接受 {settings.allowed()}，按文件内容判断"]})
    return found


def write_file(directory: Path, stored: str, data: bytes) -> None:
    """Write the bytes under their random name (created new: never overwrite), owner-only."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / stored, "xb") as handle:
        handle.write(data)
    os.chmod(directory / stored, 0o600)


def open_evidence(session: Session, case: Case, evidence_id: int, actor: Actor,
                  now: datetime, settings: EvidenceSettings) -> tuple[CaseEvidence, Path]:
    """Return a case's evidence row and its file for download; audited; the caller commits."""
    row = session.scalar(select(CaseEvidence).where(CaseEvidence.id == evidence_id,
                                                    CaseEvidence.case_id == case.id))
    if row is None or not STORED_NAME.match(row.stored_name):
        raise NotFound("材料不存在")
    path = settings.directory / row.stored_name
    if not path.is_file():
        raise NotFound("材料文件已不存在，请联系系统管理员")
    audit.record(session, actor.name, "case.evidence.read", f"case:{case.id}", now,
                 {"evidence": row.id}, actor.address)
    return row, path


def media_type(kind: str) -> str:
    """Return the media type a kind of evidence is served with."""
    return KINDS[kind][2]


def discard(settings: EvidenceSettings, row: CaseEvidence) -> None:
    """Remove a stored file whose row was not committed (a failed transaction)."""
    with contextlib.suppress(FileNotFoundError):
        (settings.directory / row.stored_name).unlink()
