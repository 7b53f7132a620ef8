#!/usr/bin/env bash
# Run every stage of a config on this machine with N MPI ranks (resumable: rerun after a kill).
# Usage: jobs/local.sh CONFIG [RANKS] [extra hpcrbm run flags, e.g. --set model.L=16]
set -euo pipefail
CONFIG=${1:?usage: jobs/local.sh CONFIG [RANKS] [flags]}
RANKS=${2:-2}
shift $(( $# >= 2 ? 2 : 1 ))
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
PY=${PY:-$(dirname "$0")/../.venv/bin/python}
exec mpiexec --oversubscribe -n "$RANKS" "$PY" -m hpcrbm run "$CONFIG" "$@"
