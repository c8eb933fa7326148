#!/usr/bin/env bash
# Stops the single-node cluster that tests/cluster/start-slurm.sh started: cancels its jobs, then
# stops slurmd, slurmctld and munged by their pid files (never by name, so nothing else on the
# machine is touched). Idempotent. `--purge` also deletes the state dir ($XLLM_SLURM_DIR).
set -uo pipefail

STATE=${XLLM_SLURM_DIR:-/tmp/xllm-slurm}
CONF=$STATE/slurm.conf
export SLURM_CONF=$CONF

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # pidfile: SIGTERM, wait up to 10 s, then SIGKILL
  local pidfile=$1 pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$pidfile"
}

if alive "$STATE/slurmctld.pid"; then
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 1 40); do
      [ -z "$(squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
fi
stop_pidfile "$STATE/slurmd.pid"
stop_pidfile "$STATE/slurmctld.pid"
stop_pidfile "$STATE/munge/munged.pid"
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ]; then
  rm -f /etc/slurm/slurm.conf
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$STATE"
  echo "stop-slurm: stopped, state dir $STATE removed"
else
  echo "stop-slurm: stopped (state kept in $STATE)"
fi
