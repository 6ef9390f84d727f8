"""The bundled catalogue: complete entries, expected verdicts at many seeds and sizes,
and a generated page that is up to date."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import CATALOGUE, ROOT
from gradcheck.catalogue import load_catalogue, load_text
from gradcheck.checker import Options, check_catalogue, check_identity
from gradcheck.report.catalogue_page import catalogue_page, read_coverage
from gradcheck.verdict import Status

LOADED = load_catalogue([CATALOGUE])
IDENTITIES = LOADED.identities


def test_every_file_loads() -> None:
    assert [str(b.error) for b in LOADED.bad_files] == []


def test_size_of_the_catalogue() -> None:
    assert len(IDENTITIES) >= 150
    assert sum(len(i.claims) for i in IDENTITIES) >= 300


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.name)
def test_entry_is_complete(identity) -> None:  # type: ignore[no-untyped-def]
    assert identity.name == Path(identity.path).stem
    assert identity.title and identity.source and identity.tags and identity.latex
    sizes = list(identity.dims.values())
    # dimensions of different names get different sizes: a transposed claim cannot pass by accident
    assert len(sizes) == len(set(sizes)), identity.dims
    for claim in identity.claims:
        assert not claim.expect_fail or claim.reason


def test_expected_failures_have_a_corrected_claim_beside_them() -> None:
    for identity in IDENTITIES:
        if any(c.expect_fail for c in identity.claims):
            assert any(not c.expect_fail for c in identity.claims), identity.name


def test_generated_page_is_up_to_date() -> None:
    page = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    coverage = read_coverage((ROOT / "docs" / "coverage.md").read_text(encoding="utf-8"))
    assert page == catalogue_page(IDENTITIES, CATALOGUE, coverage), "run: gradcheck docs identities"


def unexpected(options: Options) -> list[str]:
    found = []
    for results in check_catalogue(LOADED, options, jobs=os.cpu_count() or 1):
        for r in results:
            expected = Status.XFAIL if r.claim is not None and r.claim.expect_fail else Status.PASS
            if r.status is not expected:
                found.append(f"{r.identity} {r.description}: {r.status.value} {r.message or r.hint}")
    return found


SIZES = [None, 2, 3, 5, 8]


# The reduced set for the catalogue step; the full sweep (seeds 0-19) is marked slow.
@pytest.mark.catalogue
@pytest.mark.parametrize(("seed", "size"), [(0, s) for s in SIZES] + [(1, None)])
def test_expected_verdicts(seed: int, size: int | None) -> None:
    assert unexpected(Options(seed=seed, size=size)) == []


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seed", range(1, 20))
def test_expected_verdicts_full_sweep(seed: int, size: int | None) -> None:
    assert unexpected(Options(seed=seed, size=size)) == []


@pytest.mark.parametrize(("name", "old", "new", "hint"), [
    ("derivation_two_layer_w1", "((g @ W2).T * (s * (1 - s))).T @ dW1 @ x",
     "((g @ W2).T * (s * (1 - s))).T @ dW1.T @ x", "step 2: "),
    ("derivation_two_layer_w2", "'trace(s @ g @ dW2)'", "'-trace(s @ g @ dW2)'", "step 3: "),
    ("derivation_affine_norm", "trace(2 * x @ y.T @ dW)", "trace(2 * y @ x.T @ dW)", "step 3: "),
    ("derivation_logdet", "derivative: inv(X).T}", "derivative: inv(X)}", "read off: "),
    ("derivation_trace_axb", "'trace(B @ A @ dX)'", "'trace(A @ B @ dX)'", "step 2: "),
    ("derivation_xtx", "'dx.T @ x + x.T @ dx'", "'dx.T @ x - x.T @ dx'", "step 1: "),
])
def test_a_slip_planted_in_a_seed_derivation_is_named_by_its_step(name: str, old: str, new: str, hint: str) -> None:
    text = (CATALOGUE / "seed" / f"{name}.yaml").read_text(encoding="utf-8")
    assert old in text
    # the planted claim is the file's first: its derivation in Python syntax (the note's own
    # LaTeX lines follow as a claim of their own)
    result = check_identity(load_text(text.replace(old, new), f"{name}.yaml"), Options(size=3))[0]
    assert result.status is Status.FAIL
    assert result.hint.startswith(hint)
