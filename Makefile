# Two commands a user needs: `make run` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
# uv from PATH if present, else a project-local copy installed with the machine's python3.
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.cache/uv/bin/uv)

.PHONY: help setup run report test lint format

help:
	@echo "make run    - start Kafka + Cassandra locally and the whole pipeline, with a live view"
	@echo "make test   - the whole test suite, real services included"
	@echo "make report - render the dashboard panels to PNG under report/ from the local Cassandra"
	@echo "make preview [STACK=eks] - the real pulumi preview of a stack, offline"
	@echo "make lint   - ruff check + format check"
	@echo "make cluster-up / cluster-down - a real single-node Kubernetes on this machine (root)"

$(CURDIR)/.cache/uv/bin/uv:
	@echo "uv not found: installing uv $(UV_VERSION) into .cache/uv"
	python3 -m venv $(CURDIR)/.cache/uv
	$(CURDIR)/.cache/uv/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --frozen --all-packages

run: setup
	$(UV) run --frozen finnhub-run

report: setup
	$(UV) run --frozen finnhub-report --out report

test: setup
	$(UV) run --frozen pytest

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: setup
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

# The real Pulumi engine plans a stack offline: no cluster, no cloud (tools/pulumi/README.md).
# `make preview STACK=eks` for the EKS stack. Builds the toolchain from Go modules on first use.
STACK ?= minikube
.PHONY: preview
preview: setup
	$(UV) run --frozen python tools/pulumi/preview.py --stack $(STACK)

# A real single-node Kubernetes on this machine, from package registries only
# (apps/local-cluster/README.md). Needs root; builds its binaries on first use.
.PHONY: cluster-up cluster-down
cluster-up: setup
	$(UV) run --frozen local-cluster up

cluster-down: setup
	$(UV) run --frozen local-cluster down
