import copy
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from backend.scoring import DEFAULT_SCHEME_DICT, GroupRule, Scheme, SchemeError, scheme_from_dict

SOURCE = "schemes/default.yaml"
REPO_ROOT = Path(__file__).resolve().parents[3]


def mutated(change):
    data = copy.deepcopy(DEFAULT_SCHEME_DICT)
    change(data)
    return data


def test_default_dict_builds_the_default_scheme():
    assert scheme_from_dict(DEFAULT_SCHEME_DICT) == Scheme()


def test_default_yaml_mirrors_the_default_scheme_dict():
    text = (REPO_ROOT / "survey_templates" / "schemes" / "default.yaml").read_text("utf-8")
    # The file carries no version: the template registry versions schemes by content.
    assert scheme_from_dict({**yaml.safe_load(text), "version": 1}, SOURCE) == Scheme()


def test_numbers_may_be_ints_floats_or_strings_and_stay_exact():
    def change(data):
        data["trim"] = 0.05
        data["groups"]["peer"] = {"weight": "15", "min_n": 3.0, "trim": 0.35}
        data["groups"]["superior"]["trim_min_each_side"] = "1"

    scheme = scheme_from_dict(mutated(change))
    assert scheme.groups["recipient"].trim == Decimal("0.05")
    assert scheme.groups["peer"] == GroupRule(3, Decimal(15), Decimal("0.35"), 0)
    assert scheme.groups["superior"].trim_min_each_side == 1


def test_loading_does_not_modify_its_input():
    data = copy.deepcopy(DEFAULT_SCHEME_DICT)
    scheme_from_dict(data)
    assert data == DEFAULT_SCHEME_DICT


def test_error_message_names_source_path_and_reason():
    with pytest.raises(SchemeError) as caught:
        scheme_from_dict(mutated(lambda d: d["groups"]["peer"].update(trim="0.5")), SOURCE)
    assert str(caught.value) == "schemes/default.yaml: groups.peer.trim: must be >= 0 and < 0.5"
    assert (caught.value.path, caught.value.source) == ("groups.peer.trim", SOURCE)


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _delete(*keys):
    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def _zero_weights(data):
    for group in data["groups"].values():
        group["weight"] = 0


BAD = [
    (_delete("trim"), "trim", "is required"),
    (_set("colour", "red"), "colour", "unknown key"),
    (_delete("groups", "peer", "min_n"), "groups.peer.min_n", "is required"),
    (_set("groups", "peer", "wieght", 3), "groups.peer.wieght", "unknown key"),
    (_set("flags", "mood", 1), "flags.mood", "unknown key"),
    (_set("groups", "peer", "weight", -1), "groups.peer.weight", "must be >= 0"),
    (_zero_weights, "groups", "weights must sum to a positive number"),
    (_set("trim", "0.5"), "trim", "must be >= 0 and < 0.5"),
    (_set("groups", "peer", "trim", "-0.01"), "groups.peer.trim", "must be >= 0 and < 0.5"),
    (_set("trim", "abc"), "trim", "must be a number"),
    (_set("groups", "peer", "min_n", 0), "groups.peer.min_n", "must be >= 1"),
    (_set("groups", "peer", "min_n", 2.5), "groups.peer.min_n", "must be an integer"),
    (_set("version", "one"), "version", "must be an integer"),
    (_set("flags", "low_sample_min", True), "flags.low_sample_min", "must be an integer"),
    (_set("thresholds", "satisfied_min", 11), "thresholds.satisfied_min", "within the scale"),
    (_set("thresholds", "dissatisfied_max", 0), "thresholds.dissatisfied_max", "within the scale"),
    (_set("min_weight_coverage", "1.5"), "min_weight_coverage", "between 0 and 1"),
    (_set("min_weight_coverage", -0.1), "min_weight_coverage", "between 0 and 1"),
    (_set("flags", "warning_talk_above", "NaN"), "flags.warning_talk_above", "must be a number"),
    (_set("flags", "group", "public"), "flags.group", "must be one of the groups"),
    (_set("scale", {"min": 5, "max": 5}), "scale.max", "greater than scale.min"),
    (_set("groups", []), "groups", "must be a mapping"),
    (_set("groups", {}), "groups", "at least one group"),
    (_set("id", ""), "id", "non-empty string"),
]


@pytest.mark.parametrize(("change", "path", "reason"), BAD)
def test_invalid_scheme_is_rejected_with_its_path(change, path, reason):
    with pytest.raises(SchemeError) as caught:
        scheme_from_dict(mutated(change), SOURCE)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{SOURCE}: {path}: ")
    assert reason in caught.value.reason


def test_a_scheme_that_is_not_a_mapping_is_rejected():
    with pytest.raises(SchemeError, match="must be a mapping"):
        scheme_from_dict(["id", "default"], SOURCE)
