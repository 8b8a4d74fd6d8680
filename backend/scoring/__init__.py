"""Pure scoring: histograms, trimmed means, intervals, composite and flags (SCORING.md).

Standard library only; nothing here knows of Flask, the database or YAML.
"""

from .compute import (
    FLAG_ORDER,
    INSUFFICIENT,
    OK,
    Composite,
    GroupScore,
    composite,
    round_half_up,
    score_flags,
    score_group,
    score_pairs,
)
from .digest import canonical_histograms, canonical_pairs, histogram_digest, pairs_digest
from .document import composite_document, group_document, score_document
from .errors import SchemeError
from .headline import (
    COMPOSITE,
    INSUFFICIENT_KIND,
    RECIPIENT_INDEX,
    Headline,
    Standing,
    document_headline,
    headline,
    headline_document,
    standing,
)
from .histogram import (
    Histogram,
    histogram_from_scores,
    merge_histograms,
    sample_size,
    sorted_counts,
)
from .interval import tukey_mclaughlin_ci
from .periods import (
    Period,
    PeriodError,
    current_period,
    has_begun,
    month_label,
    parse_period,
    period_start,
    shift_month,
    trailing_months,
)
from .rates import dissatisfaction, satisfaction
from .scheme import DEFAULT_SCHEME_DICT, GroupRule, Scheme, scheme_from_dict
from .tdist import t_ppf, t_sf
from .trim import (
    exact_proportion,
    trim_count,
    trimmed_histogram,
    trimmed_mean,
    winsorized_histogram,
    winsorized_variance,
)

__all__ = [
    "COMPOSITE",
    "DEFAULT_SCHEME_DICT",
    "FLAG_ORDER",
    "INSUFFICIENT",
    "INSUFFICIENT_KIND",
    "OK",
    "RECIPIENT_INDEX",
    "Composite",
    "GroupRule",
    "GroupScore",
    "Headline",
    "Histogram",
    "Period",
    "PeriodError",
    "Scheme",
    "SchemeError",
    "Standing",
    "canonical_histograms",
    "canonical_pairs",
    "composite",
    "composite_document",
    "current_period",
    "dissatisfaction",
    "document_headline",
    "exact_proportion",
    "group_document",
    "has_begun",
    "headline",
    "headline_document",
    "histogram_digest",
    "histogram_from_scores",
    "merge_histograms",
    "month_label",
    "pairs_digest",
    "parse_period",
    "period_start",
    "round_half_up",
    "sample_size",
    "satisfaction",
    "scheme_from_dict",
    "score_document",
    "score_flags",
    "score_group",
    "score_pairs",
    "shift_month",
    "sorted_counts",
    "standing",
    "t_ppf",
    "t_sf",
    "trailing_months",
    "trim_count",
    "trimmed_histogram",
    "trimmed_mean",
    "tukey_mclaughlin_ci",
    "winsorized_histogram",
    "winsorized_variance",
]
