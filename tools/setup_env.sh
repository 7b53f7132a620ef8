#!/usr/bin/env bash
# Sets up everything hpcrbm needs, from nothing: Open MPI and parallel HDF5 (and slurm-wlm and
# munge, for the Slurm tests) from the system's packages (when absent and we are root on Debian),
# a .venv, h5py built against parallel HDF5, and hpcrbm with its extras. Idempotent: a finished
# set-up is a stamp file.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.hpcrbm-setup"
HDF5_DIR_DEFAULT=/usr/lib/$(uname -m)-linux-gnu/hdf5/openmpi

if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.cfg ] && [ "$STAMP" -nt tools/setup_env.sh ]; then
  exit 0
fi

have_system_mpi_hdf5() { command -v mpicc >/dev/null && command -v mpiexec >/dev/null && [ -d "$HDF5_DIR_DEFAULT" ]; }
# Slurm and munge: the job-script tests (tests/slurm) start a single-node Slurm with them.
have_slurm() { command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
               && command -v munged >/dev/null; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
# another apt-get or unattended-upgrades holding the dpkg lock: wait for it (up to 10 min) instead of failing
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if { ! have_system_mpi_hdf5 || ! have_slurm; } && can_apt; then
  export DEBIAN_FRONTEND=noninteractive
  apt_get update -qq
fi
if ! have_system_mpi_hdf5; then
  if can_apt; then
    echo "setup: installing Open MPI and parallel HDF5 from Debian packages"
    apt_get install -y -qq libhdf5-openmpi-dev openmpi-bin libopenmpi-dev pkg-config >/dev/null
  else
    echo "setup: Open MPI / parallel HDF5 not found and cannot install them (not root on Debian);" \
         "h5py will fall back to the serial writer" >&2
  fi
fi
if ! have_slurm; then
  if can_apt; then
    echo "setup: installing slurm-wlm and munge from Debian packages (for the Slurm tests)"
    apt_get install -y -qq slurm-wlm munge >/dev/null \
      || echo "setup: slurm-wlm / munge could not be installed; the Slurm tests will skip" >&2
  else
    echo "setup: slurm-wlm / munge not found and cannot install them (not root on Debian); the Slurm tests will skip" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q mpi4py numpy "Cython>=3,<4" pkgconfig "setuptools>=77" packaging wheel
if ! "$VENV/bin/python" -c "import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 1)" 2>/dev/null; then
  if have_system_mpi_hdf5; then
    echo "setup: building h5py against parallel HDF5 (a few minutes)"
    CC=mpicc HDF5_MPI=ON HDF5_DIR="${HDF5_DIR:-$HDF5_DIR_DEFAULT}" \
      $PIP install -q --no-build-isolation --no-binary=h5py --force-reinstall --no-deps h5py
  else
    $PIP install -q h5py
  fi
fi
$PIP install -q -e ".[test,figures]"
touch "$STAMP"
"$VENV/bin/python" -c "import h5py, mpi4py; print('setup: h5py', h5py.__version__, 'mpi =', h5py.get_config().mpi, '| mpi4py', mpi4py.__version__)"
