#!/usr/bin/env bash
# Installs Debian's Slurm (slurm-wlm) and munge so tests/cluster/start-slurm.sh can bring up a
# single-node cluster for the cluster tests. Idempotent, and never fails the set-up: where it
# cannot install (not root, no apt, no network) it says why and exits 0; the cluster tests then
# skip with that reason.
set -u
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
   && command -v munged >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1; then
  echo "install-slurm: Slurm already installed ($(dpkg-query -W -f='${Version}' slurmctld 2>/dev/null || echo "not from apt"))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-slurm: skipped, not root (install slurm-wlm and munge yourself to run the cluster tests)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-slurm: skipped, no apt-get on this machine (cluster tests will be skipped)"
  exit 0
fi
# Daemons are started by tests/cluster/start-slurm.sh, not by the packages' postinst (there is
# usually no init system in a container); a policy-rc.d answering 101 stops invoke-rc.d.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
export DEBIAN_FRONTEND=noninteractive
pkgs="slurm-wlm munge"
ok=0
if apt-get install -y -q --no-install-recommends $pkgs >/tmp/install-slurm.log 2>&1; then
  ok=1
elif apt-get update -q >>/tmp/install-slurm.log 2>&1 \
     && apt-get install -y -q --no-install-recommends $pkgs >>/tmp/install-slurm.log 2>&1; then
  ok=1
fi
[ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
if [ "$ok" = 1 ]; then
  echo "install-slurm: installed slurm-wlm $(dpkg-query -W -f='${Version}' slurmctld) and munge"
else
  echo "install-slurm: skipped, apt-get install $pkgs failed (last lines of /tmp/install-slurm.log):"
  tail -n 3 /tmp/install-slurm.log | sed 's/^/  /'
fi
exit 0
