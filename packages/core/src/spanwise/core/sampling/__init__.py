"""Sampling: an in-process tail-sampling processor with the Collector's policy schema."""

from ._policies import Policy, parse_duration, policy_from_config
from ._tail import TailSamplingSpanProcessor, TailSamplingStats

__all__ = [
    "Policy",
    "TailSamplingSpanProcessor",
    "TailSamplingStats",
    "parse_duration",
    "policy_from_config",
]
