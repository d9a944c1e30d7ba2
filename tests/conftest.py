"""Shared pytest setup for the course's tests.

Every test is deterministic: seeds are fixed in the tests themselves, hypothesis runs a fixed
number of examples with no deadline (machines are shared and noisy; speed is measured by
`make bench`, never asserted here).
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "course",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("course")
