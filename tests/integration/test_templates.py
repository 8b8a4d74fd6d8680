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


def write(folder: Path, name: str, text: str) -> None:
    (folder / "settings" / name).write_text(text, encoding="utf-8")


def test_shipped_settings_name_the_groups_and_categories_of_the_reform():
    vocabulary = load_catalogue(ROOT).vocabulary
    assert {"recipient", "representative", "superior", "peer", "subordinate", "org_department",
            "third_party", "media"} <= set(vocabulary.groups)
    assert {g: vocabulary.groups[g].min_n for g in
            ("recipient", "representative", "superior", "peer", "subordinate")} == {
        "recipient": 10, "representative": 3, "superior": 1, "peer": 3, "subordinate": 3}
    assert vocabulary.group_code("两代表一委员") == "representative"
    assert vocabulary.category_code("生态功能类") == "town_ecology"
    names = {c.name for c in vocabulary.categories.values()}
    assert {"经济发展类部门", "党群政务类部门", "执法监督类部门", "社会事务公共服务类部门",
            "重点建设发展类乡镇", "农业农村经济发展类乡镇", "生态功能类乡镇"} <= names
    assert vocabulary.rules == () and vocabulary.scheme_for("dept_economy", "principal") == \
        "default"


def test_the_one_plus_five_n_scheme_ships_with_the_reform_weights():
    scheme = load_catalogue(ROOT).schemes["one_plus_five_n"].definition
    weights = {group: rule["weight"] for group, rule in scheme["groups"].items()}
    assert weights == {"org_department": 20, "superior": 15, "peer": 15, "recipient": 35,
                       "third_party": 15, "media": 5}


def test_a_deployment_adds_a_group_and_a_rule(folder):
    groups = yaml.safe_load((ROOT / "settings" / "rater_groups.yaml").read_text("utf-8"))
    groups["villagers"] = {"name": "村民代表", "min_n": 5, "aliases": ["村民"]}
    write(folder, "rater_groups.yaml", yaml.safe_dump(groups, allow_unicode=True))
    write(folder, "scheme_rules.yaml", "- scheme: one_plus_five_n\n"
                                       "  categories: [town_ecology]\n  levels: [principal]\n")
    edit(folder / "democratic_appraisal.yaml", lambda d: d["groups"].append("villagers"))
    vocabulary = load_catalogue(folder).vocabulary
    assert vocabulary.group_code("村民") == "villagers"
    assert vocabulary.groups["villagers"].min_n == 5
    assert vocabulary.scheme_for("town_ecology", "principal") == "one_plus_five_n"
    assert vocabulary.scheme_for("town_ecology", "deputy") == "default"
    assert vocabulary.scheme_for("dept_economy", None) == "default"


@pytest.mark.parametrize(("name", "text", "path"), [
    ("rater_groups.yaml", "Peer: {name: 同级, min_n: 3}\n", "Peer"),
    ("rater_groups.yaml", "a_very_long_group_code_x: {name: 长, min_n: 3}\n",
     "a_very_long_group_code_x"),
    ("rater_groups.yaml", "peer: {name: 同级, min_n: 0}\n", "peer.min_n"),
    ("rater_groups.yaml", "peer: {name: 同级, min_n: true}\n", "peer.min_n"),
    ("rater_groups.yaml", "peer: {name: '', min_n: 3}\n", "peer.name"),
    ("rater_groups.yaml", "peer: {name: 同级, min_n: 3, colour: red}\n", "peer.colour"),
    ("rater_groups.yaml", "peer: {name: 同级, min_n: 3}\nrecipient: {name: 同级, min_n: 10}\n",
     "recipient"),
    ("rater_groups.yaml", "[]\n", ""),
    ("unit_categories.yaml", "town: {name: 乡镇, aliases: [1, 2]}\n", "town.aliases"),
    ("scheme_rules.yaml", "- scheme: nowhere\n", "[0].scheme"),
    ("scheme_rules.yaml", "- scheme: one_plus_five_n\n  categories: [moon]\n", "[0].categories"),
    ("scheme_rules.yaml", "- scheme: one_plus_five_n\n  levels: [正职]\n", "[0].levels"),
    ("scheme_rules.yaml", "- scheme: one_plus_five_n\n  when: always\n", "[0]"),
    ("scheme_rules.yaml", "scheme: default\n", ""),
])
def test_bad_settings_are_refused_naming_file_key_and_reason(folder, name, text, path):
    write(folder, name, text)
    with pytest.raises(TemplateError) as info:
        load_catalogue(folder)
    assert info.value.source == f"settings/{name}"
    assert info.value.path == path
    assert info.value.reason


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["groups"].update(aliens={"weight": 5, "min_n": 3}), "groups.aliens"),
    (lambda d: d.update(scale={"min": 0, "max": 10}), "scale"),
    (lambda d: d["flags"].update(low_sample_min=10), "flags.low_sample_min"),
])
def test_a_scheme_that_cannot_share_the_count_table_is_refused(folder, change, path):
    edit(folder / "schemes" / "one_plus_five_n.yaml", change)
    with pytest.raises(TemplateError) as info:
        load_catalogue(folder)
    assert (info.value.source, info.value.path) == ("schemes/one_plus_five_n.yaml", path)


def test_a_folder_without_settings_takes_the_shipped_ones(folder):
    shutil.rmtree(folder / "settings")
    assert load_catalogue(folder).vocabulary.groups == load_catalogue(ROOT).vocabulary.groups
