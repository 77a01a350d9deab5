# examnet — the two commands of the README are `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test check lint bench clean dashboards

$(BIN)/.installed: pyproject.toml lab/pyproject.toml
	scripts/setup-system.sh
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# the namespace lab: its own distribution, never part of the product's
	$(BIN)/pip install -q -e ./lab
	touch $@

setup: $(BIN)/.installed

## The demo: build the lab of sites.toml, run the monitor on it (SQLite), tear the lab down on Ctrl-C.
demo: setup
	$(BIN)/examnet run --lab --config sites.toml

## Everything CI runs: lint, types, unit and integration tests (needs root for the lab).
test: setup lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check monitor probes alerts lab
	$(BIN)/mypy
	$(BIN)/python scripts/check_layers.py

check: test

## Grafana dashboards as code: regenerate deploy/grafana/dashboards/*.json (commit the result).
dashboards: setup
	$(BIN)/python deploy/grafana/generate.py

## Benchmarks: ICMP throughput, CPU, RSS and fidelity beside fping.
bench: setup
	$(BIN)/python benchmarks/icmp.py --allow-ping-sockets --lab sites.toml
	$(BIN)/python benchmarks/snmp.py
	$(BIN)/python benchmarks/alert_latency.py
	$(BIN)/python benchmarks/metrics.py --before e212898
	$(BIN)/python benchmarks/incidents.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
