"""The console's sample thresholds are the scoring scheme's, not constants of its own."""

import copy

from backend.scoring import DEFAULT_SCHEME_DICT
from backend.services.reports import SampleThresholds, sample_thresholds
from backend.services.templates.catalogue import Catalogue, LoadedFile


def catalogue_with(flags: dict) -> Catalogue:
    definition = copy.deepcopy(DEFAULT_SCHEME_DICT)
    definition.pop("version", None)
    definition["flags"].update(flags)
    scheme = LoadedFile("scheme", "default", "schemes/default.yaml", definition)
    return Catalogue(templates={}, schemes={"default": scheme})


def test_thresholds_follow_the_schemes_minimum_sample_and_months():
    found = sample_thresholds(catalogue_with({"low_sample_min": 12, "low_sample_months": 3}))
    assert found == SampleThresholds(minimum=12, months=3)


def test_without_a_scheme_file_the_built_in_defaults_apply():
    assert sample_thresholds(Catalogue(templates={}, schemes={})) == SampleThresholds(30, 6)
