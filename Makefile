# Two commands a user needs: `make run` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
# The project's own uv: installed with the machine's python3 into a venv under .cache/uv, and linked
# alone into .cache/bin, the one directory of project tools meant for PATH (the venv's bin also holds
# a python3 that must not shadow the user's).
PROJECT_UV := $(CURDIR)/.cache/bin/uv
# Your uv when one is on PATH (any release that reads uv.lock: 0.6.15 or later for Pulumi's uv
# toolchain); otherwise the project's. `make UV=/path/to/uv` chooses explicitly.
UV := $(or $(shell command -v uv 2>/dev/null),$(PROJECT_UV))
# Whatever make runs finds that same uv on PATH, not only the commands written $(UV) here: the Pulumi
# engine's uv toolchain (Pulumi.yaml, policy/PulumiPolicy.yaml) runs plain `uv`. A machine without a
# uv of its own is the case that needs this, so it must not hinge on one being there.
ifneq ($(shell command -v uv 2>/dev/null),$(UV))
export PATH := $(patsubst %/,%,$(dir $(UV))):$(PATH)
endif

.PHONY: help setup run report test lint format

help:
	@echo "make run    - start Kafka + Cassandra locally and the whole pipeline, with a live view"
	@echo "make test   - the whole test suite, real services included"
	@echo "make report - render the dashboard panels to PNG under report/ from the local Cassandra"
	@echo "make preview [STACK=eks] - the real pulumi preview of a stack, offline"
	@echo "make lint   - ruff check + format check"
	@echo "make actionlint - build the GitHub Actions workflow linter that make test runs"
	@echo "make cluster-up / cluster-down - a real single-node Kubernetes on this machine (root)"
	@echo "make deploy-local / destroy-local - the pipeline deployed by pulumi up onto that cluster (root)"

$(CURDIR)/.cache/uv/bin/uv:
	@echo "no uv on PATH: installing uv $(UV_VERSION) into .cache/uv"
	python3 -m venv $(CURDIR)/.cache/uv
	$(CURDIR)/.cache/uv/bin/pip install --quiet uv==$(UV_VERSION)

$(PROJECT_UV): $(CURDIR)/.cache/uv/bin/uv
	mkdir -p $(@D)
	ln -sfn ../uv/bin/uv $@

setup: $(UV)
	$(UV) sync --frozen --all-packages

# The orchestrator is its own app, apps/local-pipeline; local-stack only runs Kafka and Cassandra.
run: setup
	$(UV) run --frozen --package local-pipeline finnhub-run

report: setup
	$(UV) run --frozen finnhub-report --out report

# PYTEST_ARGS narrows a run, e.g. CI's `make test PYTEST_ARGS='-m "not cluster"'`.
PYTEST_ARGS ?=
test: setup actionlint
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: setup
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

# actionlint, which tests/ci runs on .github/workflows/, built from its Go module into .cache on
# first use. Without Go the build fails: outside CI the test then skips and says why, under
# CI=true it fails.
.PHONY: actionlint
actionlint:
	bash tools/actionlint/install.sh || [ "$$CI" != "true" ]

# The real Pulumi engine plans a stack offline: no cluster, no cloud (tools/pulumi/README.md).
# `make preview STACK=eks` for the EKS stack. Builds the toolchain from Go modules on first use.
STACK ?= minikube
.PHONY: preview
preview: setup
	$(UV) run --frozen python tools/pulumi/preview.py --stack $(STACK)

# The whole pipeline deployed by the Pulumi program onto local-cluster (README: "Deploy on this
# machine"): cluster up, images built and pushed, `pulumi up --stack local`. Needs root.
.PHONY: deploy-local destroy-local
deploy-local: setup
	$(UV) run --frozen python tools/pulumi/deploy_local.py

destroy-local: setup
	$(UV) run --frozen python tools/pulumi/deploy_local.py destroy

# A real single-node Kubernetes on this machine, from package registries only
# (apps/local-cluster/README.md). Needs root; builds its binaries on first use.
.PHONY: cluster-up cluster-down
cluster-up: setup
	$(UV) run --frozen local-cluster up

cluster-down: setup
	$(UV) run --frozen local-cluster down
