#!/usr/bin/env bash
# The default scenario's test sequence (destroy, create, check, converge, idempotence,
# verify, destroy), step by step, so that the steps on the hosts run under mitogen's
# linear strategy: over the podman connection it made idempotence 4x faster (461 s ->
# 118 s, measured side by side). create stays on ansible's own strategy: the podman
# driver's create polls async jobs on localhost, which never finish under mitogen.
# `molecule test` runs the same sequence without mitogen.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-default}
strategies=$(python -c 'import ansible_mitogen, os; print(os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"))')

molecule destroy -s "$scenario"
trap 'molecule destroy -s "$scenario"' EXIT
molecule create -s "$scenario"
export ANSIBLE_STRATEGY_PLUGINS=$strategies ANSIBLE_STRATEGY=mitogen_linear
molecule converge -s "$scenario" -- --check
molecule converge -s "$scenario"
molecule idempotence -s "$scenario"
molecule verify -s "$scenario"
