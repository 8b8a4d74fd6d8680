"""Survey templates: validated at load with file, path and reason; versioned by content."""

import shutil
from pathlib import Path

import pytest
import yaml

from backend.errors import TemplateError
from backend.services.templates.catalogue import load_catalogue, register, register_all

ROOT = Path(__file__).resolve().parents[2] / "survey_templates"


@pytest.fixture
def folder(tmp_path) -> Path:
    target = tmp_path / "survey_templates"
    shutil.copytree(ROOT, target)
    return target


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_templates_and_default_scheme_load():
    catalogue = load_catalogue(ROOT)
    assert {"service_event", "democratic_appraisal", "representative_review"} <= set(
        catalogue.templates)
    event_types = catalogue.templates["service_event"].definition["event_types"]
    assert {"approval", "village_visit", "enterprise_reception"} <= set(event_types)
    assert "default" in catalogue.schemes


@pytest.mark.parametrize(("file", "change", "path"), [
    ("service_event.yaml", lambda d: d["scale"].update(min=5, max=3), "scale.max"),
    ("service_event.yaml", lambda d: d["tags"].update(positive=[]), "tags.positive"),
    ("service_event.yaml", lambda d: d.pop("event_types"), "event_types"),
    ("service_event.yaml", lambda d: d.update(colour="red"), "colour"),
    ("service_event.yaml", lambda d: d["tag_display"].update(negative_max=99),
     "tag_display.negative_max"),
    ("democratic_appraisal.yaml", lambda d: d.update(groups=["aliens"]), "groups.0"),
    ("schemes/default.yaml", lambda d: d["groups"]["peer"].update(trim="0.5"), "groups.peer.trim"),
    ("schemes/default.yaml", lambda d: d["thresholds"].update(satisfied_min=11),
     "thresholds.satisfied_min"),
])
def test_invalid_file_is_refused_naming_file_path_and_reason(folder, file, change, path):
    edit(folder / file, change)
    with pytest.raises(TemplateError) as info:
        load_catalogue(folder)
    assert info.value.source == file
    assert info.value.path == path
    assert info.value.reason
    assert str(info.value).startswith(f"{file}: {path}: ")


def test_broken_yaml_names_the_file(folder):
    (folder / "service_event.yaml").write_text("key: [unclosed", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"service_event\.yaml"):
        load_catalogue(folder)


def test_changed_template_becomes_a_new_version_and_the_old_one_stays(app, session, folder):
    first = register_all(session, load_catalogue(folder))
    old = next(r for r in first if r.key == "service_event")
    assert old.version == 1
    edit(folder / "service_event.yaml", lambda d: d["tags"]["positive"].append("耐心细致"))
    new = register(session, load_catalogue(folder).templates["service_event"])
    session.commit()
    assert new.version == 2 and new.digest != old.digest
    assert "热情周到" in old.definition["tags"]["positive"]
    assert "耐心细致" not in session.get(type(old), old.id).definition["tags"]["positive"]


def test_unchanged_template_keeps_its_version(app, session):
    catalogue = load_catalogue(ROOT)
    again = [r.version for r in register_all(session, catalogue)]
    assert again == [r.version for r in register_all(session, catalogue)]


def test_templates_check_command_reports_the_error(app, runner, folder):
    edit(folder / "representative_review.yaml", lambda d: d.update(max_tags=0))
    result = runner.invoke(args=["templates", "check", "--dir", str(folder)])
    assert result.exit_code == 1
    assert "representative_review.yaml: max_tags:" in result.output


def test_templates_check_command_passes_on_the_shipped_files(app, runner):
    result = runner.invoke(args=["templates", "check", "--dir", str(ROOT)])
    assert result.exit_code == 0, result.output
    assert "service_event.yaml" in result.output


def test_app_refuses_to_start_with_an_invalid_template(make_app, folder):
    edit(folder / "service_event.yaml", lambda d: d.update(kind="poll"))
    with pytest.raises(TemplateError, match=r"service_event\.yaml: kind"):
        make_app(SURVEY_TEMPLATES_DIR=str(folder))
