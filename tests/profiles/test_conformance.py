"""The conformance suite: every profile's cases (cases_<profile>.py), each asserting tunelint's
verdict on an example whose fate at the provider its source states."""

from __future__ import annotations

import pytest

from tests.profiles import cases_hf, cases_mistral, cases_openai, cases_together
from tests.profiles._conformance import check, documented
from tunelint.linter.profiles import PROFILES

SUITES = {m.PROFILE: m.CASES for m in (cases_openai, cases_together, cases_mistral, cases_hf)}
ALL = [(profile, case) for profile, cases in SUITES.items() for case in cases]


def test_every_profile_has_a_suite():
    assert sorted(SUITES) == sorted(PROFILES)


@pytest.mark.parametrize(("profile", "case"), ALL, ids=[f"{p}-{c.name}" for p, c in ALL])
def test_case(profile, case):
    check(case, profile)


@pytest.mark.parametrize("profile", list(SUITES))
def test_every_difference_is_documented(profile):
    """Where tunelint is stricter or milder than the provider, the rule's documentation says so."""
    assert [c.name for c in SUITES[profile] if not documented(c, profile)] == []


@pytest.mark.parametrize("profile", list(SUITES))
def test_case_names_are_unique(profile):
    names = [c.name for c in SUITES[profile]]
    assert len(names) == len(set(names))
