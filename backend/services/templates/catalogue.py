"""Survey templates and scoring schemes: loaded from YAML, validated, versioned by content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import NotFound, TemplateError
from backend.models import SurveyTemplate
from backend.schemas.templates import TemplateFileSchema
from backend.scoring import SchemeError, scheme_from_dict
from backend.scoring.vocabulary import Vocabulary
from backend.services.fraud.settings import FraudSettingsError, from_scheme
from backend.services.templates.vocabulary_files import SHIPPED, load_vocabulary


@dataclass(frozen=True)
class LoadedFile:
    """A validated template or scheme file, not yet registered."""
    kind: str
    key: str
    source: str
    definition: dict[str, Any]

    @property
    def digest(self) -> str:
        """Return the content digest that decides whether this is a new version."""
        canonical = json.dumps(self.definition, sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@cache
def shipped_vocabulary() -> Vocabulary:
    """Return the groups and categories shipped with the product (no scheme rules)."""
    return load_vocabulary(SHIPPED.parent, {})


@dataclass(frozen=True)
class Catalogue:
    """Every template and scheme found in the templates folder, and its settings."""
    templates: dict[str, LoadedFile]
    schemes: dict[str, LoadedFile]
    vocabulary: Vocabulary = field(default_factory=shipped_vocabulary)


def first_error(messages: Any, prefix: str = "") -> tuple[str, str]:
    """Return (dotted path, reason) of the first error in marshmallow's nested messages."""
    if isinstance(messages, Mapping):
        key = sorted(messages, key=str)[0]
        child = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
        return first_error(messages[key], child)
    if isinstance(messages, list) and messages:
        return first_error(messages[0], prefix)
    return prefix, str(messages)


def read_yaml(path: Path, source: str) -> dict:
    """Parse a YAML file into a mapping or raise TemplateError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TemplateError(source, "", f"不是有效的 YAML：{exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(source, "", "文件内容必须是一个映射（键: 值）")
    return data


def validate_template(data: dict, source: str) -> dict:
    """Validate a template mapping against the file schema."""
    try:
        loaded = TemplateFileSchema().load(data)
    except ValidationError as exc:
        path, reason = first_error(exc.messages)
        raise TemplateError(source, path, reason) from exc
    if Path(source).stem != loaded["key"]:
        raise TemplateError(source, "key", f"须与文件名一致（{Path(source).stem}）")
    return loaded


def validate_scheme(data: dict, source: str) -> dict:
    """Validate a scheme mapping with the scoring package's rules and its fraud thresholds."""
    try:
        scheme_from_dict({**data, "version": 1}, source)
        from_scheme(data.get("fraud"))
    except SchemeError as exc:
        raise TemplateError(source, exc.path, exc.reason) from exc
    except FraudSettingsError as exc:
        raise TemplateError(source, exc.path, exc.reason) from exc
    if Path(source).stem != data.get("id"):
        raise TemplateError(source, "id", f"须与文件名一致（{Path(source).stem}）")
    return data


def load_folder(folder: Path, pattern: str, kind: str, check: Callable) -> dict[str, LoadedFile]:
    """Load and validate every file of one kind in a folder."""
    found = {}
    for path in sorted(folder.glob(pattern)):
        source = str(path.relative_to(folder.parent if kind == "scheme" else folder))
        definition = check(read_yaml(path, source), source)
        key = definition.get("key") or definition["id"]
        found[key] = LoadedFile(kind=kind, key=key, source=source, definition=definition)
    return found


def load_catalogue(root: str | Path) -> Catalogue:
    """Load and validate all templates, schemes and settings under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise TemplateError(str(root), "", "模板目录不存在")
    schemes = load_folder(root / "schemes", "*.yaml", "scheme", validate_scheme)
    if "default" not in schemes:
        raise TemplateError("schemes/default.yaml", "", "缺少默认计分方案")
    vocabulary = load_vocabulary(root, schemes)
    for loaded in schemes.values():
        check_scheme_fits(loaded, schemes["default"], vocabulary)
    templates = load_folder(root, "*.yaml", "template", validate_template)
    for loaded in templates.values():
        check_template_groups(loaded, vocabulary)
    return Catalogue(templates=templates, schemes=schemes, vocabulary=vocabulary)


def check_template_groups(loaded: LoadedFile, vocabulary: Vocabulary) -> None:
    """Refuse a template naming a rater group the settings do not define."""
    definition = loaded.definition
    named = [*([("group", definition["group"])] if "group" in definition else []),
             *((f"groups.{i}", g) for i, g in enumerate(definition.get("groups", [])))]
    for path, group in named:
        if group not in vocabulary.groups:
            raise TemplateError(loaded.source, path, f"未知的评价人群体 {group}；可选："
                                + vocabulary.group_choices())


def check_scheme_fits(loaded: LoadedFile, default: LoadedFile, vocabulary: Vocabulary) -> None:
    """Refuse a scheme with groups not configured, or another scale or low-sample rule than
    the default's: one publication scores every official on one count table and window."""
    definition, base = loaded.definition, default.definition
    for group in definition.get("groups", {}):
        if group not in vocabulary.groups:
            raise TemplateError(loaded.source, f"groups.{group}", "未知的评价人群体；可选："
                                + vocabulary.group_choices())
    if definition.get("scale") != base.get("scale"):
        raise TemplateError(loaded.source, "scale", "量表须与默认方案相同")
    for key in ("low_sample_min", "low_sample_months"):
        if definition["flags"].get(key) != base["flags"].get(key):
            raise TemplateError(loaded.source, f"flags.{key}", "样本不足规则须与默认方案相同")


def register(session: Session, loaded: LoadedFile) -> SurveyTemplate:
    """Return the registry row for this content, creating the next version if it is new."""
    for _attempt in range(3):
        row = session.scalar(select(SurveyTemplate).filter_by(
            kind=loaded.kind, key=loaded.key, digest=loaded.digest))
        if row is not None:
            return row
        latest = session.scalar(select(func.max(SurveyTemplate.version)).filter_by(
            kind=loaded.kind, key=loaded.key)) or 0
        row = SurveyTemplate(kind=loaded.kind, key=loaded.key, version=latest + 1,
                             digest=loaded.digest, definition=loaded.definition)
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            continue  # another process registered it first; read theirs
    raise RuntimeError(f"could not register {loaded.kind} {loaded.key}")


def register_all(session: Session, catalogue: Catalogue) -> list[SurveyTemplate]:
    """Register every loaded file and commit."""
    rows = [register(session, f) for f in [*catalogue.templates.values(),
                                             *catalogue.schemes.values()]]
    session.commit()
    return rows


def current_template(session: Session, catalogue: Catalogue, key: str) -> SurveyTemplate:
    """Return the registered current version of template `key`."""
    loaded = catalogue.templates.get(key)
    if loaded is None:
        raise NotFound(f"模板不存在：{key}")
    return register(session, loaded)
