#!/usr/bin/env bash
# Brings up a single-node Slurm cluster on this machine (munged + slurmctld + slurmd from Debian's
# slurm-wlm/munge packages, see scripts/install-slurm.sh) for the cluster tests and benchmarks.
#
#   tests/cluster/start-slurm.sh          # prints `export SLURM_CONF=...` on its last line
#   eval "$(tests/cluster/start-slurm.sh | tail -n 1)"; sinfo
#
# Why this shape: containers have no init system, so the daemons run as root in the background
# with every path (config, munge key and socket, spool, state, logs, pid files) under one state
# dir, $XLLM_SLURM_DIR (default /tmp/xllm-slurm). No accounting database: the Snakemake plugin
# queries job states with squeue, which keeps finished jobs for MinJobAge seconds. The node offers
# $XLLM_SLURM_GPUS fake GPUs (GRES whose device files are /dev/null twins, default 2) so that GPU requests are
# scheduled and checked like on a GPU cluster; the jobs themselves run on the CPU.
# Idempotent: when the cluster already answers, it only waits for the node to be usable.
# Exit status 0: the node is idle (or already running jobs); 1: it could not start (why on stderr).
set -euo pipefail

STATE=${XLLM_SLURM_DIR:-/tmp/xllm-slurm}
GPUS=${XLLM_SLURM_GPUS:-2}
CTLD_PORT=${XLLM_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${XLLM_SLURM_SLURMD_PORT:-6818}
CONF=$STATE/slurm.conf
NODE=$(hostname -s)
export SLURM_CONF=$CONF

die() { echo "start-slurm: $*" >&2; exit 1; }

for tool in munged slurmctld slurmd sinfo scontrol; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/install-slurm.sh as root)"
done
[ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs as their submitting user)"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n 1 | tr -d '*~#!%$@^-'; }

write_config() {
  mkdir -p "$STATE"/{munge,ctld,spool,log}
  chmod 755 "$STATE" "$STATE/munge"
  if [ ! -s "$STATE/munge.key" ]; then
    (umask 077 && head -c 1024 /dev/urandom > "$STATE/munge.key")
  fi
  # RealMemory a little under what is free now: slurmd drains a node that reports less than it.
  local avail_mb real_mb cpus gres_line=""
  avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  real_mb=$(( avail_mb * 9 / 10 ))
  cpus=$(nproc)
  if [ "$GPUS" -gt 0 ]; then
    # slurmd drops file-less GPUs, so each fake GPU is a character device with /dev/null's numbers.
    gres_line=" Gres=gpu:$GPUS"
    mkdir -p "$STATE/dev"
    for i in $(seq 0 $(( GPUS - 1 ))); do
      [ -c "$STATE/dev/gpu$i" ] || mknod "$STATE/dev/gpu$i" c 1 3
    done
    echo "Name=gpu File=$STATE/dev/gpu[0-$(( GPUS - 1 ))]" > "$STATE/gres.conf"
  else
    : > "$STATE/gres.conf"
  fi
  cat > "$CONF.tmp" <<EOF
# Written by tests/cluster/start-slurm.sh for a single-node test cluster; do not edit.
ClusterName=xllm
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket.2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# squeue-based status checks need finished jobs to stay visible for a while.
MinJobAge=600
# Time limits are enforced promptly: no grace minutes, a short SIGTERM-to-SIGKILL wait.
OverTimeLimit=0
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mb$gres_line State=UNKNOWN
PartitionName=xllm Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_daemons() {
  if ! alive "$STATE/munge/munged.pid"; then
    munged --force --key-file="$STATE/munge.key" --socket="$STATE/munge/munge.socket.2" \
      --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/log/munged.log" \
      --seed-file="$STATE/munge/munged.seed" || die "munged failed (see $STATE/log/munged.log)"
  fi
  if ! alive "$STATE/slurmctld.pid"; then
    slurmctld -f "$CONF" || die "slurmctld failed (see $STATE/log/slurmctld.log)"
  fi
  if ! alive "$STATE/slurmd.pid"; then
    slurmd -f "$CONF" -N "$NODE" || die "slurmd failed (see $STATE/log/slurmd.log)"
  fi
}

if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && alive "$STATE/munge/munged.pid"; then
  echo "start-slurm: already running (state in $STATE)"
else
  # A fresh start rewrites the config (this machine's CPUs and memory may have changed).
  alive "$STATE/slurmctld.pid" || alive "$STATE/slurmd.pid" || write_config
  start_daemons
fi

# Plain `sinfo`/`sbatch` (and so `snakemake --profile slurm`) find the cluster without SLURM_CONF
# when this machine has no Slurm config of its own.
if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
  mkdir -p /etc/slurm && ln -sfn "$CONF" /etc/slurm/slurm.conf
fi

deadline=$(( SECONDS + 60 ))
state=""
while [ $SECONDS -lt $deadline ]; do
  state=$(node_state || true)
  case "$state" in
    idle|mix|alloc|comp) break ;;
    down|drain|drng|fail|inval) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
case "$state" in
  idle|mix|alloc|comp) ;;
  *) die "node $NODE is '${state:-unknown}' after 60 s (logs in $STATE/log)" ;;
esac
echo "start-slurm: node $NODE is $state ($(nproc) CPUs, $GPUS fake GPUs, partition xllm)"
echo "export SLURM_CONF=$CONF"
