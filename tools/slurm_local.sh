#!/usr/bin/env bash
# A throwaway single-node Slurm on this machine (munged, slurmctld, slurmd), to test the job
# scripts for real (tests/slurm/). Needs root and Debian (installs slurm-wlm and munge if absent).
#   tools/slurm_local.sh start DIR   # config, state, logs and PIDs in DIR; waits for the node to be idle
#   tools/slurm_local.sh stop DIR    # cancels every job, waits for the queue to empty, kills the daemons
#   tools/slurm_local.sh env DIR     # prints `export SLURM_CONF=DIR/slurm.conf` for the clients
# Everything is this cluster's own: its slurm.conf (-f for the daemons, SLURM_CONF for sbatch,
# squeue, ...), its ports (free ones above 16816), its munged (own socket, key and PID file), so a
# real Slurm or munge already running here is left alone. `stop` kills exactly the recorded PIDs.
# `start` exits 3 with one line on stderr when this machine cannot run it (the tests then skip).
# Measured behaviour: README.md, "On a cluster".
set -uo pipefail

usage() { echo "usage: tools/slurm_local.sh start|stop|env DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd) || usage
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

cannot() { echo "slurm_local: cannot start a local Slurm: $*" >&2; exit 3; }
log_tail() { for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# A live process started here: its command line names this cluster's config or munge directory
# (a recorded PID reused by some other process is left alone).
ours() {
  alive "$1" || return 1
  local cmd mdir
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  mdir=$(cat "$DIR/munge.dir" 2>/dev/null)
  [[ "$cmd" == *"$CONF"* ]] || { [ -n "$mdir" ] && [[ "$cmd" == *"$mdir"* ]]; }
}
pid_of() { cat "$DIR/$1.pid.started" 2>/dev/null; }

# A TCP port nobody listens on (bash's /dev/tcp connects iff something listens).
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# Start "$@" in a session of its own (no signal from the caller's terminal or process group),
# output to log/NAME.out; the PID is recorded in NAME.pid.started for stop.
launch() {
  local name=$1; shift
  setsid "$@" </dev/null >"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/$name.pid.started"  # setsid execs (a background child is no group leader): $! is the daemon
}

start() {
  [ "$(id -u)" = 0 ] || cannot "needs root (the daemons run as root, munged as user munge)"
  if [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/slurmd ] || [ ! -x /usr/sbin/munged ] \
     || ! command -v sbatch >/dev/null; then
    command -v apt-get >/dev/null || cannot "slurm-wlm and munge are not installed and there is no apt-get"
    echo "slurm_local: installing slurm-wlm and munge (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq slurm-wlm munge; } >"$DIR/apt.log" 2>&1 \
      || { log_tail "$DIR/apt.log"; cannot "apt-get install slurm-wlm munge failed"; }
  fi
  id munge >/dev/null 2>&1 || cannot "no user munge (the munge package creates it)"
  command -v setpriv >/dev/null || cannot "needs setpriv (util-linux) to run munged as user munge"
  alive "$(pid_of slurmctld)" && cannot "a cluster is already running in $DIR (stop it first)"

  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  # munged's files: a short path (socket names are limited to 108 bytes) that user munge can
  # reach and everyone may enter (munged insists; test directories are often 0700 root),
  # recorded in DIR for stop.
  local mdir
  mdir=$(mktemp -d /tmp/hpcrbm-munge.XXXXXX) || cannot "mktemp failed"
  echo "$mdir" >"$DIR/munge.dir"
  head -c 1024 /dev/urandom >"$mdir/munge.key"  # this cluster's own key: /etc/munge is not touched
  chown -R munge:munge "$mdir" && chmod 0755 "$mdir" && chmod 0400 "$mdir/munge.key" \
    || { stop; cannot "cannot prepare munged's directory $mdir"; }

  local node cpus mem ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(nproc)
  # Memory in MB, 90% of what there is: slurmd drains a node that claims more than it has.
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  ctld_port=$(free_port 16817)
  slurmd_port=$(free_port $((ctld_port + 1)))
  cat >"$CONF" <<EOF
# Written by tools/slurm_local.sh for a throwaway single-node test cluster.
ClusterName=hpcrbm-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
# Own munged; credentials expire after 10 s: a requeued job runs again 15 s later (2-3 min by default).
AuthInfo=socket=$mdir/munge.socket,cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups, no systemd, no accounting daemon: track processes by parentage, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Debian's Open MPI works with srun --mpi=pmix (not pmi2 or none).
MpiDefault=pmix
ReturnToService=2
MailProg=/bin/true
# Fast turnaround for tests: schedule at once, SIGKILL 5 s after SIGTERM, reject impossible requests.
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=1
KillWait=5
EnforcePartLimits=ALL
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  launch munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    --socket="$mdir/munge.socket" --key-file="$mdir/munge.key" --pid-file="$mdir/munged.pid" \
    --log-file="$mdir/munged.log" --seed-file="$mdir/munged.seed"
  for _ in $(seq 50); do [ -S "$mdir/munge.socket" ] && break; alive "$(pid_of munged)" || break; sleep 0.1; done
  if [ ! -S "$mdir/munge.socket" ]; then
    log_tail "$DIR/log/munged.out" "$mdir/munged.log"
    stop
    cannot "munged did not start"
  fi

  launch slurmctld /usr/sbin/slurmctld -D -i -f "$CONF"
  launch slurmd /usr/sbin/slurmd -D -f "$CONF"
  local state=""
  for _ in $(seq 120); do  # up to 30 s; about 1 s here
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1)
    [ "$state" = idle ] && break
    alive "$(pid_of slurmctld)" && alive "$(pid_of slurmd)" || break
    sleep 0.25
  done
  if [ "$state" != idle ]; then
    log_tail "$DIR/log/slurmctld.out" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.out" "$DIR/log/slurmd.log"
    stop
    cannot "the node did not become idle (state '${state:-none}'; logs in $DIR/log)"
  fi
  echo "slurm_local: Slurm $(sinfo --version | awk '{print $2}') up: node $node ($cpus CPUs), partition debug," \
       "ports $ctld_port/$slurmd_port; export SLURM_CONF=$CONF" >&2
}

# Kill recorded daemons: SIGTERM to all of them, then SIGKILL to any left after 10 s.
kill_recorded() {
  local name pid pids=()
  for name in "$@"; do
    pid=$(pid_of "$name") && ours "$pid" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$DIR/$name.pid.started"
  done
  local left
  for _ in $(seq 100); do
    left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  return 0
}

stop() {
  if alive "$(pid_of slurmctld)"; then
    # Cancel every job and wait for the queue to empty (slurmd must still be up to end the job
    # steps, or their processes are left behind), then for the step daemons' sockets to go.
    squeue -h -o %A 2>/dev/null | sort -u | xargs -r scancel 2>/dev/null
    for _ in $(seq 120); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.25; done
    for _ in $(seq 40); do [ -z "$(find "$DIR/spool" -maxdepth 1 -type s -name '*_*.*')" ] && break; sleep 0.25; done
  fi
  kill_recorded slurmd slurmctld
  kill_recorded munged  # last: the others authenticate through it while they shut down
  local mdir
  mdir=$(cat "$DIR/munge.dir" 2>/dev/null) && [[ "$mdir" == /tmp/hpcrbm-munge.* ]] && rm -rf "$mdir"
  rm -f "$DIR/munge.dir"
}

case $ACTION in
  start) start ;;
  stop) stop; echo "slurm_local: stopped the cluster in $DIR" >&2 ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) usage ;;
esac
