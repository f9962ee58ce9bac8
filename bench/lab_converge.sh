#!/usr/bin/env bash
# Lab bring-up and converge times, and what ssh pipelining buys, in one run.
#
#   bash bench/lab_converge.sh [--cold-image]
#
# Prints: image build (cached, and with --cold-image a full rebuild), lab up from
# nothing and when already up, site.yml on fresh hosts, and a no-change site.yml run
# with pipelining on against the named peer, the same run with pipelining off.
# Not a test: it tears the lab down and rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg
version=${DEMO_VERSION:-1.0.0}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timed() {  # timed LABEL CMD... : run quietly, print the seconds, keep the log on failure
  local label=$1 t log; shift
  log=$(mktemp)
  t=$(now)
  if ! "$@" >"$log" 2>&1; then
    tail -30 "$log" >&2
    echo "bench: '$label' failed" >&2
    exit 1
  fi
  printf '%-48s %7ss\n' "$label" "$(elapsed "$t")"
  rm -f "$log"
}

echo "ansible-playbook settings:"
ansible-config dump --only-changed -t all 2>/dev/null | grep -iE 'pipelining|forks|ssh_args|gathering' | sed 's/^/  /'
ansible --version | head -1 | sed 's/^/  /'
echo "hosts: lb1 + 3 app hosts (podman, systemd as PID 1, ssh)"
echo

make -s setup >/dev/null
bash lab/lab.sh down >/dev/null
if [ "${1:-}" = --cold-image ]; then
  timed "image build (not cached)" bash lab/lab.sh image --force
fi
timed "image (cached)" bash lab/lab.sh image
timed "lab up (from nothing, image cached)" bash lab/lab.sh up
timed "lab up (already up)" bash lab/lab.sh up
timed "site.yml converge, fresh hosts" ansible-playbook playbooks/site.yml -e service_version="$version"

t=$(now); ANSIBLE_PIPELINING=True ansible-playbook playbooks/site.yml -e service_version="$version" >/dev/null
on=$(elapsed "$t")
t=$(now); ANSIBLE_PIPELINING=False ansible-playbook playbooks/site.yml -e service_version="$version" >/dev/null
off=$(elapsed "$t")
printf '%-48s %7ss\n' "site.yml no-change run, pipelining on" "$on"
printf '%-48s %7ss\n' "site.yml no-change run, pipelining off (peer)" "$off"
awk -v on="$on" -v off="$off" 'BEGIN { printf "speed-up from pipelining: %.2fx\n", off / on }'
