# Everything runs in a local virtual environment, so a machine with only
# Python 3.11+ and pip can run `make run` or `make test` straight away.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The oldest releases that pyproject.toml allows, in a second environment: CI tests
# both, so that neither a new release nor an old floor can break users silently.
OLD := .venv-oldest
OLD_STAMP := $(OLD)/.installed

.PHONY: run test test-frameworks frameworks check-catalogue test-oldest typecheck coverage coverage-report install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --upgrade -e '.[test]'
	touch $(STAMP)

$(OLD_STAMP): pyproject.toml .ci/oldest.py
	$(PYTHON) -m venv $(OLD)
	$(OLD)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) .ci/oldest.py test > $(OLD)/constraints.txt
	$(OLD)/bin/python -m pip install --quiet -c $(OLD)/constraints.txt -e '.[test]'
	touch $(OLD_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gradcheck run identities/

# on every core (pytest-xdist, a test extra): the suite runs real subprocesses and waits
# on them, and CI runs it twice (newest and oldest releases).
# `make test COVERAGE=yes` measures the same run's branch coverage (subprocesses and
# xdist's workers included; `make coverage-report` then reads it), so that CI runs the
# suite once for both.
MEASURE = $(if $(COVERAGE),-m coverage run --parallel-mode)
COVERAGE_STAMP := $(VENV)/.coverage-installed

$(COVERAGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade -e '.[test,coverage]'
	touch $(COVERAGE_STAMP)

test: $(STAMP) $(if $(COVERAGE),$(COVERAGE_STAMP))
	$(if $(COVERAGE),rm -rf .coverage && mkdir -p .coverage)
	$(BIN)/python $(MEASURE) -m pytest -n auto

# PyTorch and JAX for the adapters' tests (gradcheck[torch], gradcheck[jax]). PyTorch is
# pinned to a CPU build: an unpinned `torch` pulls a CUDA build of several GB.
TORCH ?= torch==2.13.0
FRAMEWORKS_STAMP := $(VENV)/.frameworks

$(FRAMEWORKS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[test,torch,jax]'
	touch $(FRAMEWORKS_STAMP)

frameworks: $(FRAMEWORKS_STAMP)

# The adapters' tests with real PyTorch and JAX, which must then be there (not skipped),
# in a process of their own (see tests/conftest.py).
test-frameworks: $(FRAMEWORKS_STAMP) $(if $(COVERAGE),$(COVERAGE_STAMP))
	GRADCHECK_FRAMEWORKS=required $(BIN)/python $(MEASURE) -m pytest -q -p no:cacheprovider \
		tests/torch_test.py tests/jax_test.py tests/frameworks_bench_test.py

# The sweeps over the whole bundled catalogue (every claim at several seeds and sizes).
check-catalogue: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --catalogue -m catalogue

typecheck: $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade -e '.[test,typecheck]'
	$(BIN)/python -m mypy

# branch coverage of the unit suite and the adapters' tests (at least 95 %)
coverage:
	$(MAKE) test COVERAGE=yes
	$(MAKE) test-frameworks COVERAGE=yes
	$(MAKE) coverage-report

coverage-report: $(COVERAGE_STAMP)
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report

test-oldest: $(OLD_STAMP)
	$(OLD)/bin/python -m pip list --format freeze | grep -iE '^(numpy|scipy|click|rich|pyyaml|threadpoolctl|lark|pytest)=='
	$(OLD)/bin/python -m pytest -p no:cacheprovider -n auto

clean:
	rm -rf $(VENV) $(OLD) build src/*.egg-info .pytest_cache .coverage
