# The README's commands. Each creates .venv and installs the locked versions itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SMARTMETER_HOME ?= .smartmeter
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install up run test lint bench sample check-data clean cluster-install cluster cluster-down cluster-status cluster-check

install: $(STAMP)

# The class archive is part of the install: a new warm-up writes it again.
$(STAMP): pyproject.toml constraints.txt smartmeter_assets/components.py smartmeter_assets/stream/class_warm_up.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/smartmeter install-jars  # Spark's Kafka connector + S3A, the Kafka broker (pinned, from Maven Central), the driver's class archive
	touch $(STAMP)

up: install  ## the whole pipeline on this machine, Dagster UI on http://127.0.0.1:3000
	$(BIN)/smartmeter up

run: install  ## the pipeline headless (DATA_DIR=..., DAYS=N optional); prints one JSON summary line
	$(BIN)/smartmeter run $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(DAYS),--days $(DAYS))

test: install cluster-install lint  ## ruff + the whole test suite
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/run_all.py

sample: install  ## regenerate the committed sample
	$(BIN)/smartmeter sample --out data/sample

check-data: install
	$(BIN)/smartmeter check-data --data-dir $(or $(DATA_DIR),data/sample)

cluster-install: install  ## build the pinned MinIO with `go install` (once; cached in ~/.cache/smartmeter/bin)
	$(BIN)/smartmeter cluster install

cluster: cluster-install  ## docker-compose.yml's services as local processes on 127.0.0.1 (needs Debian's postgresql)
	$(BIN)/smartmeter cluster up

cluster-down: install
	$(BIN)/smartmeter cluster down

cluster-status: install
	$(BIN)/smartmeter cluster status

cluster-check: cluster-install  ## kill -9 driver, worker, Kafka, MinIO on a fresh cluster (DAYS=N); one JSON line
	$(BIN)/smartmeter cluster check $(if $(DAYS),--days $(DAYS)) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

clean:
	rm -rf $(VENV) .smartmeter .pytest_cache .ruff_cache
