# Two entry points (see README.md): `make demo` and `make test`.
# Everything else is a step they call; each step is idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
# The interpreter of the controller's virtualenv: Debian's python3, built with PGO and LTO.
# A deploy's controller side took 16 % less CPU under it than under a Python built without
# them and with a shared libpython (pyenv's default), measured in docs/scale.md.
PYTHON ?= /usr/bin/python3
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
DEMO_VERSION ?= 1.0.0
PYTEST_ARGS ?=
RATE ?= 25

.PHONY: demo test setup host venv collection-link releases lab-up lab-down \
        test-unit lint sanity test-integration test-integration-parallel molecule molecule-run build-check \
        clean traffic

demo: setup lab-up  ## converge the lab to the demo service and say where to look
	ansible-playbook playbooks/site.yml -e service_version=$(DEMO_VERSION)
	ansible-playbook lab/traffic/traffic.yml -e lab_traffic_rate=$(RATE)
	@echo
	@echo "Demo service v$(DEMO_VERSION) is answering through HAProxy:"
	@curl -fsS http://10.89.77.10/ && echo
	@echo "  app through the LB : curl http://10.89.77.10/"
	@echo "  HAProxy stats      : http://10.89.77.10:8404/stats"
	@echo "  Prometheus targets : http://10.89.77.10:9090/targets"
	@echo "  a lab host         : bash lab/lab.sh ssh app1"
	@echo "  synthetic traffic  : $(RATE) requests/s from lb1 (make traffic RATE=N changes it, RATE=0 stops it)"

traffic:  ## the lab's synthetic client on lb1: RATE requests/s through HAProxy (0 stops it)
	ansible-playbook lab/traffic/traffic.yml -e lab_traffic_rate=$(RATE)

test:  ## everything CI runs: setup, then the steps side by side, ending with their times
	python3 tests/run_suite.py

setup: host venv collection-link releases

host:  ## podman, runc, mmdebstrap and containers.conf (root)
	bash lab/setup-host.sh

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

venv:  ## the controller's virtualenv, made again when another interpreter than $(PYTHON) made it
	@$(PYTHON) -c 'import venv' 2>/dev/null || { echo "PYTHON=$(PYTHON): not a Python with venv; $(VENV) left as it is" >&2; exit 2; }
	@made_by=$$(sed -n 's/^executable = //p' $(VENV)/pyvenv.cfg 2>/dev/null || true); \
	if [[ -n $$made_by && $$(readlink -f "$$made_by") != $$(readlink -f $(PYTHON)) ]]; then \
	  echo "$(VENV) was made by $$made_by, not $(PYTHON): making it again"; rm -rf $(VENV); \
	fi
	@$(MAKE) --no-print-directory $(VENV)/.installed

collection-link:  ## make the repository importable as fleetops.lifecycle
	mkdir -p .build/collections/ansible_collections/fleetops
	ln -sfn ../../../.. .build/collections/ansible_collections/fleetops/lifecycle

releases:  ## release artifacts of both example services into dist/
	bash examples/demo_service/build_all.sh dist
	python3 examples/ledgerly/build.py dist

lab-up:
	bash lab/lab.sh up

lab-down:
	bash lab/lab.sh down

test-unit: venv collection-link  ## the fast loop: pure logic, plugins, demo service
	cd .build/collections/ansible_collections/fleetops/lifecycle && \
	  $(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

lint: venv collection-link
	$(BIN)/yamllint -s .
	$(BIN)/ruff check .
	$(BIN)/ansible-lint --profile production -q
	$(BIN)/python -m compileall -q plugins examples
	$(BIN)/ansible-playbook --syntax-check playbooks/*.yml >/dev/null
	$(BIN)/python tests/sanity/validate_modules.py .build/collections/ansible_collections/fleetops/lifecycle

build-check: venv  ## the collection builds, installs and its plugins document themselves
	bash tests/build_check.sh

test-integration: setup lab-up  ## every integration module, one after another, on the default lab
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

test-integration-parallel:  ## the integration groups side by side, each on a lab of its own
	python3 tests/run_suite.py --only integration

molecule: setup molecule-run  ## check -> converge -> idempotence -> verify on fresh hosts of the lab image

molecule-run:  ## molecule alone, once setup is done (tests/run_suite.py runs it beside the integration groups)
	bash lab/lab.sh image
	podman network exists fleetops-mol || podman network create fleetops-mol >/dev/null
	bash molecule/run.sh default

clean: lab-down
	rm -rf .build dist
