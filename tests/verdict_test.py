"""The verdict on readings built by hand: what passes, what fails, what cannot be judged."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.catalogue import Claim
from gradcheck.expr import parse
from gradcheck.options import DEFAULT_MAX_NOISE, DEFAULT_RTOL, NOT_SMOOTH, QUICK_NOISE, ZERO_SLACK
from gradcheck.reading import Reading
from gradcheck.verdict import (
    ClaimResult,
    Status,
    compare,
    judge,
    not_zero,
    passes,
    passes_quickly,
    unjudgeable,
    visible,
    zero_judged,
)

RTOL = DEFAULT_RTOL
CLAIM = Claim(1, "derivative", parse("2 * x", ("x",)), wrt="x", layout="denominator")
WRONG_ON_PURPOSE = Claim(2, "derivative", parse("x", ("x",)), wrt="x", layout="denominator", expect_fail=True,
                         reason="a published slip")


def reading(claimed: list[float], numeric: list[float], noise: float = 0.0, rounding: float | None = None,
            **fields: object) -> Reading:
    """A reading whose error estimate is `noise`, all of it rounding unless `rounding` says."""
    return Reading(0, "full", np.array(claimed, dtype=float), np.array(numeric, dtype=float),
                   np.array([noise]), 1, rounding=np.array([noise if rounding is None else rounding]),
                   **fields)  # type: ignore[arg-type]


def verdict(*readings: Reading, claim: Claim = CLAIM) -> ClaimResult:
    return judge("f", "f.yaml", claim, {"n": 2}, readings, RTOL)


# -- compare ----------------------------------------------------------------------


def test_equal_numbers_pass_and_a_relative_error_above_the_tolerance_fails() -> None:
    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.zeros(1), RTOL).passed
    assert not compare(np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), np.zeros(1), RTOL).passed


def test_the_noise_widens_the_tolerance_by_its_relative_size() -> None:
    c = compare(np.array([1.0 + 1e-8]), np.array([1.0]), np.array([2e-8]), RTOL)
    assert c.passed and c.noise == pytest.approx(2e-8, rel=1e-6)
    assert not compare(np.array([1.0 + 1e-7]), np.array([1.0]), np.array([2e-8]), RTOL).passed


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_value_that_is_not_finite_never_passes(bad: float) -> None:
    assert not compare(np.array([bad]), np.array([1.0]), np.zeros(1), RTOL).passed
    assert not compare(np.array([1.0]), np.array([bad]), np.zeros(1), RTOL).passed
    assert not compare(np.array([bad]), np.array([bad]), np.array([np.inf]), RTOL).passed


def test_below_its_noise_a_derivative_passes_only_claims_within_the_slack() -> None:
    noise = np.array([1e-10])
    assert compare(np.zeros(2), np.array([1e-11, -1e-11]), noise, RTOL).passed
    # both below the noise: they may differ by up to ZERO_SLACK times it
    assert compare(np.array([0.45 * ZERO_SLACK * 1e-10]), np.array([-0.45 * ZERO_SLACK * 1e-10]), noise, RTOL).passed
    # a claim above the noise is judged relative to its own size, and fails against zero
    assert not compare(np.array([1.1e-10]), np.zeros(1), noise, RTOL).passed


def test_norms_neither_overflow_nor_underflow() -> None:
    huge, tiny = np.array([1e200, 1e200]), np.array([1e-200, -1e-200])
    assert compare(huge, huge, np.zeros(1), RTOL).passed
    assert not compare(huge, 2 * huge, np.zeros(1), RTOL).passed
    assert compare(tiny, tiny, np.zeros(1), RTOL).passed
    assert not compare(tiny, -tiny, np.zeros(1), RTOL).passed


# -- what can be judged -----------------------------------------------------------


def test_clean_numbers_are_judgeable() -> None:
    assert unjudgeable(reading([1.0], [1.0], 1e-12), DEFAULT_MAX_NOISE, RTOL) is None


def test_noise_that_is_not_rounding_means_f_is_not_smooth() -> None:
    m = reading([1.0], [1.0], noise=1e-3, rounding=1e-3 / (2 * NOT_SMOOTH))
    reason = unjudgeable(m, DEFAULT_MAX_NOISE, RTOL)
    assert reason is not None and "not smooth" in reason


def test_a_derivative_below_rounding_noise_is_not_judged_zero_without_a_reference() -> None:
    m = reading([0.0], [1e-3], noise=1.0)  # reference 0: nothing shows the change of f is small
    reason = unjudgeable(m, DEFAULT_MAX_NOISE, RTOL)
    assert reason is not None and "below the rounding noise" in reason
    assert not zero_judged(m, DEFAULT_MAX_NOISE)


def test_a_derivative_below_a_small_noise_is_judged_zero() -> None:
    m = reading([0.0], [1e-14], noise=1e-13, reference=1.0)
    assert unjudgeable(m, DEFAULT_MAX_NOISE, RTOL) is None and zero_judged(m, DEFAULT_MAX_NOISE)


def test_noise_that_would_let_the_claim_pass_cannot_judge_it_but_a_clear_failure_stands() -> None:
    narrow = reading([1.0 + 1e-5], [1.0], noise=1e-4)
    assert "rounding noise floor" in (unjudgeable(narrow, DEFAULT_MAX_NOISE, RTOL) or "")
    clear = reading([2.0], [1.0], noise=1e-4)
    assert unjudgeable(clear, DEFAULT_MAX_NOISE, RTOL) is None
    assert verdict(clear).status is Status.FAIL


def test_a_conflict_between_methods_cannot_be_judged() -> None:
    m = reading([1.0], [1.0], conflict="central fails the claim but complex passes it")
    assert unjudgeable(m, DEFAULT_MAX_NOISE, RTOL) == "central fails the claim but complex passes it"


def test_a_noisy_part_names_its_input() -> None:
    part = reading([1.0], [1.0], noise=1e-3, rounding=1e-6, part="the part along dY")
    m = reading([1.0, 1.0], [1.0, 1.0], 1e-13, parts=(part,))
    reason = unjudgeable(m, DEFAULT_MAX_NOISE, RTOL)
    assert reason is not None and reason.endswith("(the part along dY)")


def test_a_view_another_method_saw_is_no_longer_judged_zero() -> None:
    m = reading([0.0], [1e-14], noise=1e-13, reference=1.0)
    seen = reading([0.0], [1e-3], noise=1e-12)
    assert visible(seen) == {""} and visible(m) == set()
    assert zero_judged(m, DEFAULT_MAX_NOISE) and not zero_judged(not_zero(m, visible(seen)), DEFAULT_MAX_NOISE)


# -- the verdict --------------------------------------------------------------------


def test_the_verdict_is_the_worst_trial() -> None:
    good, bad = reading([1.0], [1.0]), reading([1.1], [1.0])
    assert verdict(good, good).status is Status.PASS
    result = verdict(good, bad)
    assert result.status is Status.FAIL and result.error == pytest.approx(0.1 / 1.1)


def test_a_part_that_fails_fails_the_claim_although_the_whole_passes() -> None:
    # a large part that is right can hide, in the whole, a slip in a small one
    part = reading([2e-6], [1e-6], part="the part along dY")
    whole = reading([1.0, 2e-6], [1.0, 1e-6], parts=(reading([1.0], [1.0], part="the part along dX"), part))
    assert compare(whole.claimed, whole.numeric, whole.uncertainty, 1e-5).passed
    assert not passes(whole, RTOL)
    assert verdict(whole).status is Status.FAIL


def test_an_expected_failure_fails_as_expected_and_an_unexpected_pass_is_reported() -> None:
    assert verdict(reading([1.1], [1.0]), claim=WRONG_ON_PURPOSE).status is Status.XFAIL
    assert verdict(reading([1.0], [1.0]), claim=WRONG_ON_PURPOSE).status is Status.XPASS
    assert Status.XFAIL.ok and not Status.XPASS.ok and not Status.ERROR.ok


def test_no_readings_is_an_error() -> None:
    result = verdict()
    assert result.status is Status.ERROR and result.message == "no point could be sampled"


def test_numbers_too_noisy_everywhere_are_an_error_with_a_hint() -> None:
    noisy = reading([1.0], [1.0], noise=1e-3, rounding=1e-6)
    result = verdict(noisy)
    assert result.status is Status.ERROR
    assert result.message.startswith("cannot judge at any point tried")
    assert result.message.endswith("(try --method richardson or complex)")
    richardson = verdict(reading([1.0], [1.0], noise=1e-3, rounding=1e-6, method="richardson"))
    assert "try --method" not in richardson.message


def test_a_pass_says_when_it_judged_zero_or_took_a_subgradient() -> None:
    zero = verdict(reading([0.0], [1e-14], noise=1e-13, reference=1.0))
    assert zero.status is Status.PASS and any("judged zero" in n for n in zero.notes)
    kink = verdict(reading([0.5], [0.5], kinks=1))
    assert any("subgradient" in n for n in kink.notes)


def test_a_layout_warning_is_kept_for_a_pass_only() -> None:
    warned = reading([1.0], [1.0], ambiguous="X is sampled spd")
    assert verdict(warned).warnings == ("X is sampled spd",)
    assert verdict(reading([2.0], [1.0], ambiguous="X is sampled spd")).warnings == ()


def test_the_verdict_leaves_the_diagnosis_to_diagnosis() -> None:
    result = verdict(reading([2.0], [1.0]))
    assert result.status is Status.FAIL and result.hint == "" and result.details == ()


def test_one_step_size_passes_only_what_both_would_with_noise_to_spare() -> None:
    """A reading from one step size of central differences decides a pass only where it
    passes, with noise below QUICK_NOISE of --max-noise (the second step size could add a
    truncation error that makes the claim unjudgeable, for another method to judge), and
    nothing in it judged zero; anything else is read again with both step sizes."""
    quiet = QUICK_NOISE * DEFAULT_MAX_NOISE
    assert passes_quickly(reading([1.0, 2.0], [1.0, 2.0 + 1e-12], noise=1e-11), RTOL, DEFAULT_MAX_NOISE)
    assert not passes_quickly(reading([1.0, 2.0], [1.0, 2.0 + 1e-6], noise=1e-11), RTOL, DEFAULT_MAX_NOISE)
    noisy = reading([1.0, 2.0], [1.0, 2.0], noise=3 * quiet)
    assert passes(noisy, RTOL) and not unjudgeable(noisy, DEFAULT_MAX_NOISE, RTOL)
    assert not passes_quickly(noisy, RTOL, DEFAULT_MAX_NOISE)
    zero = reading([0.0, 0.0], [1e-14, 0.0], noise=1e-13)
    assert passes(zero, RTOL) and not passes_quickly(zero, RTOL, DEFAULT_MAX_NOISE)
    conflict = reading([1.0], [1.0], noise=1e-12, conflict="central fails it, complex passes it")
    assert not passes_quickly(conflict, RTOL, DEFAULT_MAX_NOISE)
