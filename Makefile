# Entry points: run, test, bench. Each installs what it needs into .venv first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES := accounts proposals voting lobbying commitments notifications
export PYTHONPATH := $(CURDIR)

COMPOSE := docker compose -f deploy/compose.yaml --env-file deploy/.env

.PHONY: install install-bench run test test-unit test-browser screenshots migrate grant-role import-actors mail bench bench-quick demo up down release test-deploy clean help

help:
	@echo "make run        start RabbitMQ-backed services + gateway (Ctrl-C stops all)"
	@echo "make test       run the whole test suite (real RabbitMQ and PostgreSQL)"
	@echo "make bench      performance figures -> docs/benchmarks.md (~25 min; make bench-quick ~5 min)"
	@echo "make demo       seed a running platform (make run) with a FR/DE/UK dataset"
	@echo "make migrate    apply every service's migrations"
	@echo "make grant-role EMAIL=a@b.c ROLE=admin|moderator|official|editor|organisation [QUESTIONS=id,id] [ACTOR=id]"
	@echo "make up / make down   the whole platform in Docker Compose (secrets in deploy/.env, see deploy/.env.example)"
	@echo "make release SERVICE=voting [BUMP=patch|minor|major]   version, changelog, tag, image of one service"
	@echo "make test-deploy      images, Compose and Kubernetes manifests validated offline"
	@echo "make mail [N=1]  list the mails caught by make run (or show the Nth newest)"
	@echo "make import-actors FILE=actors.csv   load public actors (idempotent; see services/commitments/README.md)"

$(STAMP): requirements.txt requirements-dev.txt requirements-deploy.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $(BENCH_STAMP)

install: $(STAMP)

install-bench: $(BENCH_STAMP)

run: install
	$(BIN)/python scripts/run.py

test: install
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

test-browser: install
	$(BIN)/python -m pytest tests/browser

screenshots: install
	BROWSER_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser

bench: install-bench
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.emergence

bench-quick: install-bench
	$(BIN)/python -m bench.run --quick
	$(BIN)/python -m bench.emergence --quick

demo: install-bench
	$(BIN)/python scripts/demo.py

migrate: install
	$(BIN)/python -m common.migrations upgrade $(SERVICES)

grant-role: install
	$(BIN)/python -m services.accounts.cli grant --email "$(EMAIL)" --role "$(ROLE)" \
		$(if $(QUESTIONS),--questions "$(QUESTIONS)") $(if $(ACTOR),--actor "$(ACTOR)")

import-actors: install
	$(BIN)/python -m services.commitments.cli import-actors "$(FILE)"

mail: install
	$(BIN)/python scripts/mailcatcher.py $(if $(N),show $(N),list)

up:
	@test -f deploy/.env || { echo "deploy/.env is missing: cp deploy/.env.example deploy/.env and set its secrets"; exit 1; }
	$(COMPOSE) up -d --build --wait

down:
	@test -f deploy/.env || { echo "deploy/.env is missing"; exit 1; }
	$(COMPOSE) down

release: install
	$(BIN)/python deploy/release.py SERVICE=$(SERVICE) $(if $(BUMP),BUMP=$(BUMP)) $(if $(OVERLAY),OVERLAY=$(OVERLAY))

test-deploy: install
	$(BIN)/python -m pytest tests/deploy -q

clean:
	rm -rf $(VENV) var .pytest_cache
