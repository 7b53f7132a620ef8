# hpcrbm: `make demo` and `make test` set everything up from nothing (see tools/setup_env.sh).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RANKS ?= 2
# Open MPI as root (containers, CI) and more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
# Ranks waiting in MPI give up their core: with more ranks than cores (3 on 2) spinning ranks ran
# many times slower.
export OMPI_MCA_mpi_yield_when_idle := 1
export PYTHONUNBUFFERED := 1
MPIEXEC := mpiexec --oversubscribe
PYTEST := $(PY) -m pytest -p no:cacheprovider --color=no

.PHONY: setup demo study test lint test-local test-serial test-mpi test-slurm bench clean

setup:
	bash tools/setup_env.sh

demo: setup
	$(MPIEXEC) -n $(RANKS) $(PY) -m hpcrbm run configs/demo.toml
	$(PY) -m hpcrbm summary runs/demo
	@echo "demo: summary.json and figures/ in runs/demo"
	@echo "      files: samples.h5 rbm.h5 thermometer.h5 flow.h5 analysis.h5 (inspect: $(PY) -m hpcrbm info FILE)"

# The reproduction study (docs/results.md): every run, then docs/study/ and the report (hours on 2 cores).
study: setup
	RANKS=$(RANKS) PY=$(PY) MPIEXEC="$(MPIEXEC)" bash tools/study.sh

# The Slurm tests mostly wait (for Slurm's time limit and its jobs), so they run beside the serial
# and MPI suites, not after them: each part's output comes in one piece when it ends (about 6
# minutes in all on 2 cores, against 9 one after the other).
test: setup lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-local test-slurm

# The serial suite, then the MPI one.
test-local:
	$(MAKE) --no-print-directory test-serial
	$(MAKE) --no-print-directory test-mpi

lint:
	$(VENV)/bin/ruff check hpcrbm tests benchmarks tools

test-serial:
	timeout 1800 $(PYTEST) -q --timeout 600 -m "not slurm" tests

test-mpi:
	timeout 600 $(MPIEXEC) -n 2 $(PYTEST) --with-mpi -m mpi -q --timeout 300 tests/mpi
	timeout 600 $(MPIEXEC) -n 3 $(PYTEST) --with-mpi -m mpi -q --timeout 300 tests/mpi

# The job scripts under a real single-node Slurm that the tests start and stop (tools/slurm_local.sh;
# root on Debian, else skipped with the reason): about 2 minutes on 2 cores, mostly waiting.
test-slurm:
	timeout 1200 $(PYTEST) -q -rs --timeout 600 -m slurm tests/slurm

# Every benchmark beside its reference in the same run, one table of ratios with floors, written into
# docs/benchmarks.md; exits 1 below a floor. Minutes; not part of make test (timing is not a test).
bench: setup
	$(VENV)/bin/python -c "import sklearn" 2>/dev/null || $(VENV)/bin/python -m pip install -q scikit-learn
	$(PY) benchmarks/bench_all.py --write

clean:
	rm -rf runs build *.egg-info
