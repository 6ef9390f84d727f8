from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gradcheck.catalogue import load_catalogue, load_file, load_text
from gradcheck.checker import Options, check_catalogue, check_identity
from gradcheck.verdict import ClaimResult, Status


def run(text: str, **options: object) -> list[ClaimResult]:
    return check_identity(load_text(text, "t.yaml"), Options(**options))  # type: ignore[arg-type]


def statuses(text: str, **options: object) -> list[Status]:
    return [r.status for r in run(text, **options)]


GENERAL = """\
name: t
dims: {n: 4, m: 3}
inputs:
  X: {shape: [n, m]}
  Y: {shape: [m, n]}
constants:
  A: {shape: [m, n]}
function: trace(A @ X)
claims:
"""


@pytest.mark.parametrize(
    ("claim", "status", "hint"),
    [
        ("{wrt: X, layout: denominator, derivative: A.T}", Status.PASS, ""),
        ("{wrt: X, layout: numerator, derivative: A}", Status.PASS, ""),
        ("{wrt: X, layout: denominator, derivative: 2 * A.T}", Status.FAIL,
         "off by a factor: numerical = 1/2 x claim"),
        ("{wrt: X, layout: denominator, derivative: -A.T}", Status.FAIL, "matches the claim negated"),
        ("{differential: trace(A @ dX)}", Status.PASS, ""),
        ("{differential: trace(A @ dX) + trace(dY @ A.T)}", Status.FAIL, ""),
        ("{equals: trace(X @ A)}", Status.PASS, ""),
        ("{equals: trace(X.T @ A.T) + 1e-3}", Status.FAIL, ""),
        ("{hessian: 'zeros(12, 12)', wrt: X}", Status.PASS, ""),
        ("{hessian: eye(12), wrt: X}", Status.FAIL, ""),
    ],
)
def test_each_form_passes_when_right_and_fails_when_wrong(claim: str, status: Status, hint: str) -> None:
    [result] = run(GENERAL + f"  - {claim}\n")
    assert result.status is status, result.message
    if hint:
        assert result.hint == hint


SQUARE = """\
name: sq
dims: {n: 4}
inputs:
  X: {shape: [n, n], kind: invertible}
function: logdet(X)
claims:
"""


def test_layout_slip_is_diagnosed_as_a_transpose() -> None:
    [result] = run(SQUARE + "  - {wrt: X, layout: numerator, derivative: inv(X).T}\n")
    assert result.status is Status.FAIL
    assert result.hint == "matches the claim transposed: it holds in layout denominator"
    assert result.details[0].startswith("largest difference at entry (")


def test_symmetrised_claim_is_diagnosed() -> None:
    [result] = run(SQUARE + "  - {wrt: X, layout: denominator, derivative: sym(inv(X))}\n")
    assert result.status is Status.FAIL
    assert result.hint == "matches only on its symmetric part: right for symmetric dX only"


QUAD = """\
name: quad
dims: {n: N}
inputs:
  x: {shape: [n, 1]}
constants:
  A: {shape: [n, n]}
function: x.T @ A @ x
claims:
  - {hessian: A + A.T, wrt: x}
  - {hessian: 2 * A, wrt: x}
"""


def test_hessian_must_be_symmetric_and_right() -> None:
    text = QUAD.replace("n: N", "n: 3")
    assert statuses(text) == [Status.PASS, Status.FAIL]
    big = run(text, size=5, trials=2)
    assert big[0].status is Status.PASS and big[0].mode == "full"


def test_hessian_directional_mode_catches_an_unsymmetric_claim() -> None:
    text = QUAD.replace("n: N", "n: 30")
    right, wrong = run(text)
    assert right.mode == "directional"
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)


def test_expected_failures() -> None:
    text = SQUARE + (
        "  - {wrt: X, layout: numerator, derivative: inv(X).T, expect: fail, reason: layout slip}\n"
        "  - {wrt: X, layout: numerator, derivative: inv(X), expect: fail, reason: not really}\n"
    )
    assert statuses(text) == [Status.XFAIL, Status.XPASS]


def test_only_a_claim_that_evaluates_can_be_an_expected_failure() -> None:
    text = SQUARE + "".join(f"  - {{wrt: X, layout: denominator, derivative: '{claim}', expect: fail, reason: r}}\n"
                            for claim in ("inv(X) @ ones(n, 1)", "log(-X @ X.T)", "X @ ones(2, 2)"))
    wrong_shape, not_finite, does_not_evaluate = run(text)
    assert (wrong_shape.status, not_finite.status) == (Status.XFAIL, Status.XFAIL)
    # two shapes that do not fit: a typo, not the recorded slip
    assert does_not_evaluate.status is Status.ERROR
    assert "matmul shape mismatch" in does_not_evaluate.message


def test_the_other_layouts_shape_is_a_fail_that_names_the_layout() -> None:
    text = GENERAL + "  - {wrt: X, layout: numerator, derivative: A.T}\n"
    [result] = run(text)
    assert result.status is Status.FAIL
    assert result.hint == ("it holds in layout denominator: the claimed shape is layout denominator's (in layout "
                           "numerator the derivative is its transpose)")


def test_nonfinite_function_is_an_error_that_says_where() -> None:
    text = SQUARE.replace("logdet(X)", "log(det(X))").replace("invertible", "general")
    results = run(text + "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n", trials=10)
    assert results[0].status is Status.ERROR
    assert results[0].message.startswith("'log(det(X))' is NaN in function at the sampled point (trial ")


def test_nonfinite_claim_is_an_error() -> None:
    [result] = run(SQUARE + "  - {wrt: X, layout: denominator, derivative: inv(X).T / 0}\n")
    assert result.status is Status.ERROR
    assert result.message.startswith("'inv(X).T / 0' is infinite in claim 1 at the sampled point")


def test_runtime_shape_error_in_a_claim_spares_the_others() -> None:
    text = GENERAL + "  - {differential: A @ dX}\n  - {differential: trace(A @ dX)}\n"
    first, second = run(text)
    assert first.status is Status.ERROR and "claimed differential has shape (3,3)" in first.message
    assert second.status is Status.PASS


def test_zero_derivative_passes_and_nonzero_claim_fails() -> None:
    text = GENERAL.replace("trace(A @ X)", "trace(A @ X) + 0 * sum(Y * Y)") + (
        "  - {wrt: Y, layout: denominator, derivative: 'zeros(m, n)'}\n"
        "  - {wrt: Y, layout: denominator, derivative: '1e-6 * ones(m, n)'}\n")
    assert statuses(text) == [Status.PASS, Status.FAIL]


def test_symmetric_perturbation_checks_the_symmetric_part_only() -> None:
    text = """\
name: sym
dims: {n: 4}
inputs:
  X: {shape: [n, n], kind: symmetric, perturb: symmetric}
constants:
  A: {shape: [n, n]}
function: trace(A @ X)
claims:
  - {wrt: X, layout: denominator, derivative: A.T, label: any gradient with the right symmetric part}
  - {wrt: X, layout: denominator, derivative: sym(A), label: the symmetric gradient}
  - {wrt: X, layout: denominator, derivative: A + A.T - A * eye(n), label: cookbook element-wise formula}
"""
    assert statuses(text) == [Status.PASS, Status.PASS, Status.FAIL]
    assert statuses(text, size=12) == [Status.PASS, Status.PASS, Status.FAIL]


def test_vector_function_jacobians() -> None:
    text = """\
name: jac
dims: {n: 3, m: 2}
inputs:
  x: {shape: [n, 1]}
constants:
  A: {shape: [m, n]}
function: A @ x
claims:
  - {wrt: x, layout: numerator, derivative: A}
  - {wrt: x, layout: denominator, derivative: A.T}
  - {wrt: x, layout: denominator, derivative: A}
"""
    results = run(text)
    assert [r.status for r in results[:2]] == [Status.PASS, Status.PASS]
    assert results[2].status is Status.FAIL and "it holds in layout numerator" in results[2].hint


def test_scalar_and_one_by_one_are_interchangeable() -> None:
    text = """\
name: scalars
inputs:
  s: {shape: []}
  x: {shape: [3]}
function: s ** 2 * sum(x)
claims:
  - {wrt: s, layout: denominator, derivative: '2 * s * sum(x) * ones(1, 1)'}
  - {wrt: x, layout: numerator, derivative: s ** 2 * ones(3)}
  - {equals: 'ones(1, 1) * s ** 2 * sum(x)'}
"""
    assert statuses(text) == [Status.PASS, Status.PASS, Status.PASS]


def test_large_input_runs_in_directional_mode_quickly() -> None:
    text = SQUARE + "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n" \
                    "  - {wrt: X, layout: denominator, derivative: inv(X)}\n" \
                    "  - {differential: 'trace(solve(X, dX))'}\n"
    start = time.perf_counter()
    right, wrong, differential = run(text, size=500, trials=1)
    assert time.perf_counter() - start < 30
    assert right.mode == "directional" and right.nfev < 100
    assert (right.status, wrong.status, differential.status) == (Status.PASS, Status.FAIL, Status.PASS)
    assert wrong.hint == "matches the claim transposed: it holds in layout numerator"


def test_results_do_not_depend_on_order_or_filter(write: Callable[..., Path], tmp_path: Path) -> None:
    for name in ("aa", "bb"):
        write(SQUARE.replace("name: sq", f"name: {name}") +
              "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n", f"{name}.yaml")
    catalogue = load_catalogue([tmp_path])
    every = {r.identity: r.error for rs in check_catalogue(catalogue) for r in rs}
    only_b = {r.identity: r.error for rs in check_catalogue(catalogue, only="bb") for r in rs}
    parallel = {r.identity: r.error for rs in check_catalogue(catalogue, jobs=2) for r in rs}
    assert parallel == every
    alone = check_identity(load_file(tmp_path / "bb.yaml"))
    assert every["bb"] == only_b["bb"] == alone[0].error
    assert every["aa"] != every["bb"]


def test_seed_changes_the_points() -> None:
    text = SQUARE + "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n"
    assert run(text, seed=1)[0].error != run(text, seed=2)[0].error
    assert run(text, seed=1)[0].error == run(text, seed=1)[0].error


def test_dims_options() -> None:
    text = GENERAL + "  - {wrt: X, layout: denominator, derivative: A.T}\n"
    assert run(text, size=2)[0].sizes == {"n": 2, "m": 2}
    assert run(text, dims={"m": 5})[0].sizes == {"n": 4, "m": 5}


def test_swapped_arguments_are_diagnosed() -> None:
    text = """\
name: swap
dims: {n: 3}
inputs:
  X: {shape: [n, n]}
constants:
  A: {shape: [n, n]}
  B: {shape: [n, n]}
function: trace(A @ X @ B)
claims:
  - {wrt: X, layout: numerator, derivative: A @ B}
"""
    [result] = run(text)
    assert result.status is Status.FAIL
    assert result.hint == "matches the claim with A and B swapped"


def _blas_threads(_: object) -> list[int]:
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_workers_run_blas_on_one_thread() -> None:
    import multiprocessing

    from gradcheck.checker import _worker_init

    # A timeout, because a pool whose initializer raises restarts workers for ever.
    with multiprocessing.Pool(1, initializer=_worker_init) as pool:
        threads = pool.map_async(_blas_threads, [None]).get(timeout=60)[0]
    assert threads and set(threads) == {1}


def test_a_singular_inverted_matrix_is_found_at_large_sizes_too() -> None:
    # X^T X of a 12-by-250 X has rank 12: its inverse is rounding noise, and a claim built
    # on it must not be judged (an SVD would cost too much here: the 1-norm condition is used).
    text = """\
name: rank_deficient
dims: {p: 250}
inputs: {X: {shape: [12, p]}}
let: {Mi: inv(X.T @ X)}
function: trace(Mi)
claims:
  - {wrt: X, layout: denominator, derivative: -2 * X @ Mi @ Mi}
"""
    [result] = run(text)
    assert result.status is Status.ERROR
    assert "cond(X.T @ X) = " in result.message and "is above 1e+06" in result.message


def test_a_number_as_a_derivative_is_that_constant_in_every_entry() -> None:
    text = GENERAL.replace("function: trace(A @ X)", "function: A @ A.T") + (
        "  - {wrt: X, layout: numerator, derivative: 0}\n"
        "  - {differential: '0'}\n"
        "  - {wrt: X, layout: numerator, derivative: 1}\n")
    assert statuses(text) == [Status.PASS, Status.PASS, Status.FAIL]


# -- escalation and resampling, on functions built to need them ---------------------------

KINKED = """\
name: kinked
dims: {n: 3}
inputs:
  x: {shape: [n, 1]}
function: 'sum(abs(x))'
claims:
  - {wrt: x, layout: denominator, derivative: 'sign(x)'}
  - {wrt: x, layout: denominator, derivative: 'x'}
"""


def _near_a_kink(identity: object, at_kink: set[int]) -> object:
    from types import MappingProxyType

    import numpy as np

    from gradcheck.sampling import Sample, draw_sample, identity_rng

    rng = identity_rng(0, "kinked")

    def sampler(sizes: dict[str, int], trial: int) -> Sample:
        s = draw_sample(identity, sizes, rng, trial)  # type: ignore[arg-type]
        if trial not in at_kink:
            return s
        # 1e-7 from the kink of abs: inside every method's steps, not at the point itself
        return Sample(s.identity, trial, s.dims, MappingProxyType({"x": np.array([[1e-7], [1.0], [-1.0]])}))

    return sampler


def test_a_point_near_a_kink_is_replaced_and_the_result_says_so() -> None:
    identity = load_text(KINKED, "kinked.yaml")
    right, wrong = check_identity(identity, Options(), sampler=_near_a_kink(identity, {0}))  # type: ignore[arg-type]
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)
    assert right.notes == ("resampled 1 point: the numerical derivative changes with the step (noise floor "
                           f"{right.notes[0].split('noise floor ')[1].split(')')[0]}): f is not smooth near the point",)
    assert len(right.readings) == 3  # three points judged, the fourth drawn to replace the first


def test_a_claim_never_judged_is_an_error_that_says_why() -> None:
    identity = load_text(KINKED, "kinked.yaml")
    results = check_identity(identity, Options(trials=2), sampler=_near_a_kink(identity, set(range(4))))  # type: ignore[arg-type]
    for r in results:
        assert r.status is Status.ERROR
        # the last point's reason: a kink, read as such or, when the noise line crosses it,
        # as rounding noise
        assert r.message.startswith("cannot judge at any point tried: ")
        assert r.message.endswith(("f is not smooth near the point (try --method richardson or complex)",
                                   "not smooth within 1e-5 of the point (try --method richardson or complex)"))


CANCELLING = """\
name: cancelling
dims: {n: 3}
inputs:
  x: {shape: [n, 1], kind: positive}
function: 'sum((1 + 1e-4 * abs(x)) ** 2)'
claims:
  - {wrt: x, layout: denominator, derivative: '2e-4 * (1 + 1e-4 * abs(x)) * sign(x)'}
  - {wrt: x, layout: denominator, derivative: '2.000001e-4 * (1 + 1e-4 * abs(x)) * sign(x)'}
"""


def test_rounding_that_central_differences_cannot_beat_is_escalated_to_richardson() -> None:
    # f is about 3 and changes by 2e-4 per unit: central steps see 4e-6 of noise, above
    # --max-noise; Richardson's larger steps judge it, and catch a 1e-6 error. abs rules
    # out the complex step.
    right, wrong = check_identity(load_text(CANCELLING, "cancelling.yaml"), Options())
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)
    assert right.method == wrong.method == "richardson"
    assert right.notes == ("central could not judge at some points; used richardson there",)
    assert right.noise is not None and right.noise < 1e-6
    central_only = check_identity(load_text(CANCELLING, "cancelling.yaml"), Options(method="central", max_noise=1e-6))
    assert central_only[0].status is Status.PASS  # escalation is automatic, whatever was asked


REPEATED = """\
format: 2
name: repeated
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: symmetric, perturb: symmetric}
let:
  v: eigvecsh(X)[:, 2:3]
function: eigvalsh(X)[2, 0]
claims:
  - {wrt: X, layout: denominator, derivative: 'v @ v.T'}
"""


def test_a_point_with_a_repeated_spectrum_is_replaced() -> None:
    # at diag(1, 2, 2) the largest eigenvalue is double: its eigenvector is not a function
    # of X there, and the point is drawn again
    from types import MappingProxyType

    import numpy as np

    from gradcheck.sampling import Sample, draw_sample, identity_rng

    identity = load_text(REPEATED, "repeated.yaml")
    rng = identity_rng(0, "repeated")

    def sampler(sizes: dict[str, int], trial: int) -> Sample:
        s = draw_sample(identity, sizes, rng, trial)
        if trial:
            return s
        return Sample(s.identity, 0, s.dims, MappingProxyType({"X": np.diag([1.0, 2.0, 2.0])}))

    [result] = check_identity(identity, Options(), sampler=sampler)  # type: ignore[arg-type]
    assert result.status is Status.PASS
    assert result.notes[0].startswith("resampled 1 point: cond(gaps of X) = ")
    assert all(0 < c < 1e6 for r in result.readings for c in r.conditions.values())


@pytest.mark.parametrize("claim", ["sum(dX * dX)", "sum(abs(dX))", "dX[0, 0] ** 3 + sum(dX) - dX[0, 0]"])
def test_a_differential_not_linear_in_its_direction_fails(claim: str) -> None:
    # each agrees with d sum(X) along every single entry; a combination of them tells
    text = "name: t\ninputs:\n  X: {shape: [3, 3]}\nfunction: sum(X)\nformat: 2\nclaims:\n"
    [result] = run(text + f"  - differential: '{claim}'\n")
    assert result.status is Status.FAIL
    assert "not linear in its direction" in result.hint


INVERSE_V3 = """\
name: inverse-backward
format: 3
dims: {n: 3}
inputs:
  A: {shape: [n, n], kind: invertible}
let:
  C: inv(A)
function: C
claims:
"""


@pytest.mark.parametrize(("claim", "status", "hint"), [
    ("{wrt: A, cotangent: G, vjp: -C.T @ G @ C.T}", Status.PASS, ""),
    ("{wrt: A, cotangent: G, vjp: C.T @ G @ C.T}", Status.FAIL, "matches the claim negated"),
    ("{wrt: A, cotangent: G, vjp: -C.T @ G.T @ C.T}", Status.FAIL,
     "matches the claim with its cotangent G transposed"),
    ("{wrt: A, cotangent: G, vjp: '-2 * C.T @ G @ C.T'}", Status.FAIL, "off by a factor: numerical = 1/2 x claim"),
    ("{wrt: A, cotangent: G, vjp: -C @ G @ C}", Status.FAIL,
     "matches the claim transposed with its cotangent G transposed: every transpose in it missing"),
    ("{wrt: A, tangent: V, jvp: -C @ V @ C}", Status.PASS, ""),
    ("{wrt: A, tangent: V, jvp: -C @ V.T @ C}", Status.FAIL, "matches the claim with its tangent V transposed"),
    ("{wrt: A, tangent: V, jvp: '-C @ V @ C + (V[0, 0] ** 2 - V[0, 0]) * C'}", Status.FAIL, "agrees along each entry"),
])
def test_backward_and_forward_passes(claim: str, status: Status, hint: str) -> None:
    [result] = run(INVERSE_V3 + f"  - {claim}\n", trials=2)
    assert result.status is status
    assert result.hint.startswith(hint)


@pytest.mark.parametrize("n", [3, 40])  # entry by entry, and along random directions of a sketched f
def test_a_slip_in_one_entry_of_a_backward_pass_is_caught(n: int) -> None:
    claims = ("  - {wrt: A, cotangent: G, vjp: -C.T @ G @ C.T}\n"
              "  - {wrt: A, cotangent: G, vjp: '-C.T @ G @ C.T + 1e-6 * sqrt(sum(G * G)) * triu(tril(ones(n, n), -1), -1)'}\n")
    right, wrong = run(INVERSE_V3 + claims, dims={"n": n})
    assert (right.status, wrong.status) == (Status.PASS, Status.FAIL)


def test_a_backward_pass_reshaped_in_the_wrong_order_is_diagnosed() -> None:
    # f = vec(X) for a 2 x 3 X: its backward reshapes G column by column, unvec(G, 2); row
    # by row (NumPy's order: unvec(G, 3).T) puts the entries in the wrong places
    text = ("name: vec-backward\nformat: 3\ninputs:\n  X: {shape: [2, 3]}\nfunction: vec(X)\nclaims:\n"
            "  - {wrt: X, cotangent: G, vjp: 'unvec(G, 3).T'}\n")
    [result] = run(text)
    assert result.status is Status.FAIL
    assert result.hint.startswith("matches the claim with its entries reordered: a vector reshaped row by row")


def test_a_backward_pass_of_the_wrong_shape_is_an_error_that_says_so() -> None:
    [result] = run(INVERSE_V3 + "  - {wrt: A, cotangent: G, vjp: 'G[:, 0]'}\n")
    assert result.status is Status.ERROR
    assert "claimed vjp has shape (3,) but A has shape (3,3) (a vjp is the cotangent of the input)" in result.message


def test_a_backward_pass_of_a_scalar_function_scales_by_its_cotangent() -> None:
    text = INVERSE_V3.replace("function: C", "function: logdet(A @ A.T)")
    right, unscaled = run(text + "  - {wrt: A, cotangent: g, vjp: 2 * g * C.T}\n  - {wrt: A, cotangent: g, vjp: 2 * C.T}\n")
    assert right.status is Status.PASS
    assert unscaled.status is Status.FAIL


CYCLIC = """\
name: cyclic
format: 3
dims: {n: 3}
inputs:
  A: {shape: [n, n]}
  B: {shape: [n, n]}
function: A @ B
claims:
"""


@pytest.mark.parametrize(("links", "status", "hint"), [
    ("[(B.T @ A.T).T, A @ B + 0, (A @ B).T.T]", Status.PASS, ""),
    ("[(B.T @ A.T).T, B @ A, A @ B]", Status.FAIL, "link 2: (B.T @ A.T).T = B @ A does not hold: "),
    ("[(B.T @ A.T).T, A @ B, -(A @ B), A @ B]", Status.FAIL,
     "link 3: A @ B = -(A @ B) does not hold: matches the claim negated"),
    ("[B.T @ A.T, A @ B]", Status.FAIL, "link 1: f = B.T @ A.T does not hold: matches the claim transposed"),
])
def test_a_chain_names_the_first_link_that_does_not_hold(links: str, status: Status, hint: str) -> None:
    [result] = run(CYCLIC + f"  - equals: {links}\n")
    assert result.status is status
    assert result.hint.startswith(hint)
    # every link is still judged: one share of each reading per link
    assert all(len(m.parts) == links.count(",") + 1 for m in result.readings)


def test_a_chain_of_one_is_a_plain_equality() -> None:
    [chain, plain] = run(CYCLIC + "  - equals: [(B.T @ A.T).T]\n  - equals: (B.T @ A.T).T\n")
    assert chain.status is plain.status is Status.PASS
    assert chain.readings[0].parts == () and chain.claim is not None and chain.claim.describe() == "equals"


LOGDET_V3 = """\
name: logdet-derivation
format: 3
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: invertible}
  Y: {shape: [n, n]}
function: logdet(X) + trace(Y @ X)
claims:
"""


@pytest.mark.parametrize(("steps", "status", "hint"), [
    ("[trace(inv(X) @ dX) + trace(dY @ X + Y @ dX), trace((inv(X) + Y) @ dX) + trace(X @ dY)]", Status.PASS, ""),
    ("[trace(inv(X) @ dX) + trace(dY @ X + Y @ dX), trace((inv(X) + Y) @ dX.T) + trace(X @ dY)]", Status.FAIL,
     "step 2: trace(inv(X) @ dX) + trace(dY @ X + Y @ dX) = trace((inv(X) + Y) @ dX.T) + trace(X @ dY) does not "
     "hold: matches the step with dX^T for dX"),
    ("[trace(inv(X) @ dX) + trace(dY @ X), trace(inv(X) @ dX) + trace(X @ dY)]", Status.FAIL,
     "step 1: df = trace(inv(X) @ dX) + trace(dY @ X) does not hold"),
    ("[trace(inv(X) @ dX) + trace(dY @ X + Y @ dX), -trace((inv(X) + Y) @ dX) - trace(X @ dY), "
     "trace((inv(X) + Y) @ dX) + trace(X @ dY)]", Status.FAIL, "step 2: "),
])
def test_a_derivation_names_the_first_step_that_does_not_follow(steps: str, status: Status, hint: str) -> None:
    [result] = run(LOGDET_V3 + f"  - derivation: {steps}\n")
    assert result.status is status
    assert result.hint.startswith(hint)


def test_every_step_and_the_reading_off_are_judged_on_their_own() -> None:
    claim = ("  - derivation:\n"
             "      - {step: 'trace(inv(X) @ dX) + trace(dY @ X + Y @ dX)', by: 'eq. (10)'}\n"
             "      - trace((inv(X) + Y) @ dX) + trace(X @ dY)\n"
             "    read_off: {wrt: X, layout: denominator, derivative: LAYOUT}\n")
    right, wrong = run(LOGDET_V3 + claim.replace("LAYOUT", "(inv(X) + Y).T") + claim.replace("LAYOUT", "inv(X) + Y"))
    assert right.status is Status.PASS
    assert wrong.status is Status.FAIL
    assert wrong.hint.startswith("read off: inv(X) + Y (denominator, wrt X) does not hold: matches the claim transposed")
    labels = [p.part for p in right.readings[0].parts]
    assert labels == ["step 1: df = trace(inv(X) @ dX) + trace(dY @ X + Y @ dX) (by eq. (10))",
                      "step 1: df = trace(inv(X) @ dX) + trace(dY @ X + Y @ dX) (by eq. (10)) (the part along dX)",
                      "step 1: df = trace(inv(X) @ dX) + trace(dY @ X + Y @ dX) (by eq. (10)) (the part along dY)",
                      "step 2: trace(inv(X) @ dX) + trace(dY @ X + Y @ dX) = trace((inv(X) + Y) @ dX) + trace(X @ dY)",
                      "read off: (inv(X) + Y).T (denominator, wrt X)"]


def test_a_derivation_of_values_is_a_chain_from_f() -> None:
    [right, wrong] = run(LOGDET_V3 + "  - derivation: [trace(X @ Y) + logdet(X), trace(Y.T @ X.T) + logdet(X.T)]\n"
                         "  - derivation: [trace(X @ Y) + logdet(X), trace(Y @ X.T) + logdet(X)]\n")
    assert right.status is Status.PASS
    assert wrong.status is Status.FAIL and wrong.hint.startswith("step 2: trace(X @ Y) + logdet(X) = ")


def test_a_step_of_the_wrong_shape_is_an_error_naming_the_step() -> None:
    [result] = run(LOGDET_V3 + "  - derivation: [trace(inv(X) @ dX) + trace(dY @ X + Y @ dX), dX]\n")
    assert result.status is Status.ERROR
    assert "step 2 has shape (3,3) but f has shape () in claim 1" in result.message


SECOND = """\
name: second
format: 3
dims: {n: 3}
inputs:
  x: {shape: [n]}
  y: {shape: [n]}
constants:
  A: {shape: [n, n]}
function: x @ A @ y + sum(exp(x)) * sum(y * y)
claims:
"""
RIGHT_D2 = ("2 * dx @ A @ dy + sum(exp(x) * dx * dx) * sum(y * y) + 4 * sum(exp(x) * dx) * sum(y * dy)"
            " + 2 * sum(exp(x)) * sum(dy * dy)")


@pytest.mark.parametrize("n", [3, 20])  # every pair of entries, and random pairs
@pytest.mark.parametrize(("claim", "status"), [
    (f"second_differential: {RIGHT_D2}", Status.PASS),
    (f"second_differential: {RIGHT_D2.replace('2 * dx @ A @ dy', 'dx @ A @ dy')}", Status.FAIL),  # half the cross term
    (f"second_differential: {RIGHT_D2.replace('2 * dx @ A @ dy', '2 * dx @ A.T @ dy')}", Status.FAIL),
    ("{wrt: y, tangent: v, hvp: 2 * sum(exp(x)) * v}", Status.PASS),
    ("{wrt: y, tangent: v, hvp: sum(exp(x)) * v}", Status.FAIL),
    ("{wrt: x, tangent: v, hvp: exp(x) * v * sum(y * y)}", Status.PASS),
    ("{wrt: x, tangent: v, hvp: exp(x) * sum(v) * sum(y * y)}", Status.FAIL),
])
def test_second_differentials_and_hessian_vector_products(claim: str, status: Status, n: int) -> None:
    [result] = run(SECOND + f"  - {claim}\n", dims={"n": n})
    assert result.status is status
    assert result.mode == ("full" if n == 3 else "directional")


def test_a_transposed_hessian_vector_product_is_diagnosed() -> None:
    text = SECOND.replace("x: {shape: [n]}\n  y: {shape: [n]}", "X: {shape: [n, n], kind: invertible}").replace(
        "function: x @ A @ y + sum(exp(x)) * sum(y * y)", "function: logdet(X)")
    right, wrong = run(text + "  - {wrt: X, tangent: V, hvp: -(inv(X) @ V @ inv(X)).T}\n"
                       "  - {wrt: X, tangent: V, hvp: -(inv(X) @ V @ inv(X))}\n")
    assert right.status is Status.PASS
    assert (wrong.status, wrong.hint) == (Status.FAIL, "matches the claim transposed")


def test_second_order_claims_need_a_scalar_function() -> None:
    text = SECOND.replace("function: x @ A @ y + sum(exp(x)) * sum(y * y)", "function: A @ x")
    [result] = run(text + "  - second_differential: 0\n")
    assert result.status is Status.ERROR
    assert "a second_differential claim needs a scalar function, but f has shape (3,)" in result.message


PERTURBED = """\
name: perturbed
format: 3
dims: {n: 4, p: 2}
inputs:
  X: {shape: [n, n], perturb: PERTURB}
  W: {shape: [n, p], kind: orthogonal, perturb: stiefel}
constants:
  A: {shape: [n, n]}
  C: {shape: [n, n], kind: spd}
let:
  G: 2 * C @ W
function: trace(A @ X) + trace(W.T @ C @ W)
claims:
"""


@pytest.mark.parametrize("n", [4, 12])  # along a basis of the space, and along random directions in it
@pytest.mark.parametrize(("perturb", "right", "wrong"), [
    ("lower", "tril(A.T)", "triu(A.T)"),
    ("lower", "A.T", "A"),
    ("upper", "triu(A.T)", "tril(A.T)"),
    ("diagonal", "eye(n) * A", "0 * A"),
    ("skew", "(A.T - A) / 2", "(A.T + A) / 2"),
    ("toeplitz", "A.T", "A"),
])
def test_a_gradient_is_checked_on_the_space_its_input_moves_in(perturb: str, right: str, wrong: str, n: int) -> None:
    text = PERTURBED.replace("PERTURB", perturb)
    claims = "".join(f"  - {{wrt: X, layout: denominator, derivative: '{c}'}}\n" for c in (right, wrong))
    assert statuses(text + claims, dims={"n": n, "p": 2}) == [Status.PASS, Status.FAIL]


@pytest.mark.parametrize("n", [4, 60])
def test_the_riemannian_gradient_on_orthonormal_columns(n: int) -> None:
    text = PERTURBED.replace("PERTURB", "symmetric")
    claims = ("  - {wrt: W, layout: denominator, derivative: 'G - W @ (W.T @ G + G.T @ W) / 2'}\n"
              "  - {wrt: W, layout: denominator, derivative: G}\n"  # the same projection
              "  - {wrt: W, layout: denominator, derivative: C @ W}\n"  # half
              "  - {wrt: W, layout: denominator, derivative: 'G + W @ (A - A.T)[:p, :p]'}\n")  # W K, K skew: in the space
    assert statuses(text + claims, dims={"n": n, "p": 2}) == [Status.PASS, Status.PASS, Status.FAIL, Status.FAIL]


BLOCKS = """\
name: blocks
format: 3
dims: {n: 2, m: 3}
inputs:
  x: {shape: [n]}
  y: {shape: [m]}
constants:
  A: {shape: [n, m]}
function: x @ A @ y + sum(x * x) * sum(exp(y))
claims:
"""
HXX, HXY = "2 * sum(exp(y)) * eye(n)", "A + 2 * outer(x, exp(y))"
HYX, HYY = "A.T + 2 * outer(exp(y), x)", "sum(x * x) * diag(exp(y))"


@pytest.mark.parametrize("dims", [{"n": 2, "m": 3}, {"n": 5, "m": 6}])  # entry by entry, random pairs
@pytest.mark.parametrize(("wrt", "blocks", "status", "hint"), [
    ("[x, y]", (HXX, HXY, HYX, HYY), Status.PASS, ""),
    ("[y, x]", (HYY, HYX, HXY, HXX), Status.PASS, ""),
    ("[x, y]", (HXX, "A", "A.T", HYY), Status.FAIL, ""),
    ("[y, x]", (HXX, HXY, HYX, HYY), Status.FAIL, "matches the claim with its blocks in the reverse order of 'wrt'"),
])
def test_a_hessian_over_several_inputs(wrt: str, blocks: tuple[str, ...], status: Status, hint: str,
                                       dims: dict[str, int]) -> None:
    [result] = run(BLOCKS + f"  - {{wrt: {wrt}, hessian: 'block({', '.join(blocks)})'}}\n", dims=dims)
    assert result.status is status
    assert result.hint.startswith(hint)


def test_a_block_hessian_of_the_wrong_size_says_what_it_expects() -> None:
    [result] = run(BLOCKS + "  - {wrt: [x, y], hessian: 'eye(3)'}\n")
    assert result.status is Status.ERROR
    assert "but wrt [x, y] has 2 (x) + 3 (y) = 5 entries, so (5,5) is expected" in result.message


NON_SQUARE = """\
name: trace_ax
dims: {m: 4, n: 3}
inputs:
  X: {shape: [n, m]}
constants:
  A: {shape: [m, n]}
function: trace(A @ X)
claims:
  - {wrt: X, layout: denominator, derivative: A.T}
  - {wrt: X, layout: denominator, derivative: A}
  - {wrt: X, layout: denominator, derivative: 2 * A}
  - {wrt: X, layout: denominator, derivative: A, expect: fail, reason: the layout slip}
  - {wrt: X, layout: denominator, derivative: 'ones(2, 2)'}
"""


def test_the_layout_slip_of_a_non_square_input_is_a_fail_as_at_a_square_one() -> None:
    right, slip, wrong, recorded, misshapen = run(NON_SQUARE)
    assert right.status is Status.PASS
    assert slip.status is Status.FAIL and slip.hint.startswith("it holds in layout numerator")
    assert wrong.status is Status.FAIL and "does not hold in layout numerator either" in wrong.hint
    assert recorded.status is Status.XFAIL
    assert misshapen.status is Status.ERROR and "it fits neither layout" in misshapen.message
    square = run(NON_SQUARE.replace("m: 4", "m: 3"))[1]
    assert square.status is Status.FAIL and "it holds in layout numerator" in square.hint


STACKED = """\
format: 6
name: stacked
dims: {b: 3, n: 4, m: 2}
inputs:
  X: {shape: [b, n, n], kind: invertible}
  W: {shape: [b, n, m]}
constants:
  A: {shape: [b, m, n]}
function: sum(logdet(X)) + sum(trace(A @ W @ A @ W))
claims:
"""


@pytest.mark.parametrize(("claim", "status"), [
    ("{wrt: X, layout: denominator, derivative: inv(X).T}", Status.PASS),
    ("{wrt: X, layout: numerator, derivative: inv(X)}", Status.PASS),  # each matrix transposed
    ("{wrt: X, layout: denominator, derivative: inv(X)}", Status.FAIL),
    ("{wrt: W, layout: denominator, derivative: 2 * (A @ W @ A).T}", Status.PASS),
    ("{wrt: W, layout: denominator, derivative: 2 * A @ W @ A}", Status.FAIL),  # [b, m, n]: the numerator's shape
    ("{differential: 'sum(trace(inv(X) @ dX)) + 2 * sum(trace(A @ dW @ A @ W))'}", Status.PASS),
    ("{differential: 'sum(trace(inv(X) @ dX)) + sum(trace(A @ dW @ A @ W))'}", Status.FAIL),
])
def test_stacks_of_matrices_are_differentiated_matrix_by_matrix(claim: str, status: Status) -> None:
    [result] = run(STACKED + f"  - {claim}\n")
    assert result.status is status, (result.message, result.hint)


def test_multi_head_attention_with_a_head_axis() -> None:
    text = """\
format: 6
name: mha
dims: {h: 2, n: 3, d: 4}
inputs:
  Q: {shape: [h, n, d]}
  K: {shape: [h, n, d]}
  V: {shape: [h, n, d]}
constants:
  W: {shape: [h, n, d]}
let:
  P: softmax(Q @ K.T / sqrt(d), axis=2)
  S: P * (W @ V.T - sum(P * (W @ V.T), axis=2))
function: sum(W * (P @ V))
claims:
  - {wrt: V, layout: denominator, derivative: P.T @ W}
  - {wrt: Q, layout: denominator, derivative: S @ K / sqrt(d)}
  - {wrt: K, layout: denominator, derivative: S.T @ Q / sqrt(d)}
  - {wrt: K, layout: denominator, derivative: S @ Q / sqrt(d)}
"""
    assert [r.status for r in run(text)] == [Status.PASS] * 3 + [Status.FAIL]


def test_a_singular_constant_of_given_value_that_nothing_inverts_is_no_reason_to_redraw() -> None:
    text = """\
format: 3
name: shift
dims: {n: 2}
inputs:
  b: {shape: [n, 1]}
constants:
  S: {shape: [2, 2], value: [[0, 0], [1, 0]]}
function: solve(eye(2) + S, b)
claims:
  - {wrt: b, tangent: w, jvp: 'solve(eye(2) + S, w)'}
  - {wrt: b, tangent: w, jvp: 'solve(eye(2) - S, w)'}
"""
    assert statuses(text) == [Status.PASS, Status.FAIL]


def test_a_derivative_that_vanishes_is_zero_to_rounding_at_every_point() -> None:
    # the trace of an oblique projector is its rank: constant in X, whatever the
    # conditioning of Y^T X (the complex step's rounding of a zero slope repeats from point
    # to point, so its error estimate does not see it; the floor of rounding does)
    text = """\
name: rank
inputs:
  X: {shape: [5, 2]}
constants:
  Y: {shape: [5, 2]}
let:
  A: X @ solve(Y.T @ X, Y.T)
function: trace(A)
claims:
  - {wrt: X, layout: denominator, derivative: 0}
  - {wrt: X, layout: denominator, derivative: 'solve(Y.T @ X, Y.T).T'}
"""
    for seed in range(8):
        assert statuses(text, seed=seed) == [Status.PASS, Status.FAIL], seed


def _row(r: ClaimResult) -> tuple[object, ...]:
    return (r.identity, r.path, r.claim and r.claim.index, r.status, r.error, r.noise, r.hint, r.message, r.nfev)


def _folder_of_every_kind(write: Callable[..., Path], tmp_path: Path) -> Path:
    """A good identity, one failing as expected, a name used twice, a step that uses an
    identity no file holds, a file that is not YAML and a link out of the folder."""
    right = "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n"
    write(SQUARE + right, "a/sq.yaml")
    write(SQUARE.replace("name: sq", "name: slip") +
          "  - {wrt: X, layout: denominator, derivative: inv(X), expect: fail, reason: layout}\n", "a/slip.yaml")
    write(SQUARE + right, "b/sq_again.yaml")
    write(SQUARE.replace("name: sq", "name: uses").replace("format: 1", "format: 3") +
          "  - derivation:\n      - {step: trace(inv(X) @ dX), uses: no_such}\n", "b/uses.yaml")
    write("name: [", "c/broken.yaml")
    outside = write(SQUARE + right, "../outside.yaml")
    (tmp_path / "c" / "link.yaml").symlink_to(outside)
    return tmp_path


@pytest.mark.parametrize("only", [None, "sq", "broken", "uses", "claim 1"])
def test_files_loaded_in_the_workers_give_what_loading_first_gives(write: Callable[..., Path], tmp_path: Path,
                                                                    only: str | None) -> None:
    from gradcheck.catalogue import discover
    from gradcheck.checker import check_files, collected, select

    folder = _folder_of_every_kind(write, tmp_path)
    first = load_catalogue([folder])
    expected = [r for rs in check_catalogue(first, only=only, jobs=2) for r in rs]
    found = discover([folder])
    made = collected(found, check_files(found, only=only, jobs=2), only)
    assert [_row(r) for r in made.results] == [_row(r) for r in expected]
    assert made.entries == tuple(i.entry for i in first.identities)
    assert [(b.path, str(b.error)) for b in made.bad_files] == [(b.path, str(b.error)) for b in first.bad_files]
    assert made.chosen == bool(select(first.identities, only))
    results = made.results
    if only is None:
        assert [(r.identity, r.status) for r in results if r.status is Status.ERROR] == \
            [("sq", Status.ERROR), ("uses", Status.ERROR), ("broken", Status.ERROR), ("link", Status.ERROR)]


def test_what_a_worker_does_with_a_file_and_what_a_lost_one_reads(write: Callable[..., Path],
                                                                 tmp_path: Path) -> None:
    from gradcheck.checker import Checked, _load_and_check, _lost_file
    from gradcheck.supervisor import Lost

    good = str(write(SQUARE + "  - {wrt: X, layout: denominator, derivative: inv(X).T}\n", "sq.yaml"))
    broken = str(write("name: [", "broken.yaml"))
    other = str(write("jobs: {build: {runs-on: ubuntu}}\n", "ci.yaml"))
    checked = _load_and_check(good, Options(), None, False)
    [passed] = checked.results
    assert passed.status is Status.PASS and checked.chosen and checked.item == load_file(good).entry
    assert passed.readings == ()  # not sent back: a run's reports do not read them
    steps = str(write(SQUARE.replace("claims:", "format: 3\nclaims:") +
                      "  - derivation: [trace(inv(X) @ dX), sum(inv(X).T * dX)]\n", "steps.yaml"))
    [derivation] = _load_and_check(steps, Options(), None, False).results
    assert derivation.status is Status.PASS and derivation.readings == ()
    assert [step.part for step in derivation.steps or ()] == ["step 1", "step 2"]  # JUnit shows their figures
    assert _load_and_check(good, Options(), "no such", False) == Checked(good, checked.item)  # loaded, not chosen
    assert _load_and_check(other, Options(), None, True) == Checked(other, None)
    [row] = _load_and_check(broken, Options(), None, False).results
    assert row.status is Status.ERROR and "malformed YAML" in row.message
    died = Lost("died", "killed by signal 9 (SIGKILL; out of memory?)")
    [lost] = _lost_file(good, died, Options(), None, False).results
    assert lost.status is Status.ERROR and lost.message.startswith("the process checking it died: killed by signal 9")
    assert _lost_file(good, died, Options(), "no such", False) == Checked(good, checked.item)
    assert [r.status for r in _lost_file(broken, died, Options(), None, False).results] == [Status.ERROR]
    assert _lost_file(other, died, Options(), None, True) == Checked(other, None)


def test_central_differences_take_their_second_step_size_only_where_a_claim_needs_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A right claim passes from the steps at h/2 alone (half the evaluations); a wrong one,
    even by 1e-7, is read again with both step sizes and fails as before, its diagnosis
    the same."""
    from gradcheck.differences import Differences

    text = ("format: 2\nname: t\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n]}\n  y: {shape: [n]}\n"
            "function: sum(tanh(X @ y) ** 2) + abs(y[0])\nclaims:\n"
            "  - {differential: 'sum(2 * tanh(X @ y) * (1 - tanh(X @ y) ** 2) * (dX @ y + X @ dy)) + sign(y[0]) * dy[0]'}\n"
            "  - {differential: 'sum(2 * tanh(X @ y) * (1 - tanh(X @ y) ** 2) * (dX @ y + X @ dy)) * (1 + 1e-7) "
            "+ sign(y[0]) * dy[0]'}\n"
            "  - {wrt: y, layout: denominator, derivative: 'X.T @ (2 * tanh(X @ y) * (1 - tanh(X @ y) ** 2)) "
            "+ sign(y[0]) * eye(n)[0]'}\n"
            "  - {wrt: y, layout: denominator, derivative: 'X @ (2 * tanh(X @ y) * (1 - tanh(X @ y) ** 2)) "
            "+ sign(y[0]) * eye(n)[0]'}\n")
    identity = load_text(text, "t.yaml")
    quick = check_identity(identity, Options(method="central"))
    monkeypatch.setattr(Differences, "quickens", property(lambda self: False))
    both = check_identity(identity, Options(method="central"))
    assert [r.status for r in quick] == [r.status for r in both] == [Status.PASS, Status.FAIL, Status.PASS, Status.FAIL]
    assert [r.hint for r in quick] == [r.hint for r in both]
    assert sum(r.nfev for r in quick) < 0.8 * sum(r.nfev for r in both)
