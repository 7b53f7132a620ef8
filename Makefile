# hpcrbm: `make demo` and `make test` set everything up from nothing (see tools/setup_env.sh).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RANKS ?= 2
# Open MPI as root (containers, CI) and more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
export PYTHONUNBUFFERED := 1
MPIEXEC := mpiexec --oversubscribe
PYTEST := $(PY) -m pytest -p no:cacheprovider --color=no

.PHONY: setup demo study test lint test-serial test-mpi test-slurm bench clean

setup:
	bash tools/setup_env.sh

demo: setup
	$(MPIEXEC) -n $(RANKS) $(PY) -m hpcrbm run configs/demo.toml
	@echo "demo: summary in runs/demo/summary.json, figures in runs/demo/figures/"
	@echo "      files: samples.h5 rbm.h5 thermometer.h5 flow.h5 analysis.h5 (inspect: $(PY) -m hpcrbm info FILE)"

# The reproduction study (docs/results.md): every run, then docs/study/ and the report (hours on 2 cores).
study: setup
	RANKS=$(RANKS) PY=$(PY) MPIEXEC="$(MPIEXEC)" bash tools/study.sh

test: setup lint test-serial test-mpi test-slurm

lint:
	$(VENV)/bin/ruff check hpcrbm tests benchmarks tools

test-serial:
	timeout 1800 $(PYTEST) -q --timeout 600 -m "not slurm" tests

test-mpi:
	timeout 600 $(MPIEXEC) -n 2 $(PYTEST) --with-mpi -m mpi -q --timeout 300 tests/mpi
	timeout 600 $(MPIEXEC) -n 3 $(PYTEST) --with-mpi -m mpi -q --timeout 300 tests/mpi

# The job scripts under a real single-node Slurm that the tests start and stop (tools/slurm_local.sh;
# root on Debian, else skipped with the reason): about 3 minutes on 2 cores.
test-slurm:
	timeout 1200 $(PYTEST) -q -rs --timeout 600 -m slurm tests/slurm

# Every benchmark beside its reference in the same run, one table of ratios with floors, written into
# docs/benchmarks.md; exits 1 below a floor. Minutes; not part of make test (timing is not a test).
bench: setup
	$(VENV)/bin/python -c "import sklearn" 2>/dev/null || $(VENV)/bin/python -m pip install -q scikit-learn
	$(PY) benchmarks/bench_all.py --write

clean:
	rm -rf runs build *.egg-info
