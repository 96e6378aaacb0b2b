# The two commands: `make run` serves the portal, `make test` runs the whole suite on both databases.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
WORKERS ?= 2
export FLASK_APP := portal

APT_RUN := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
APT_TEST := $(APT_RUN) chromium postgresql redis-server

.PHONY: run test bench soak lint translations messages install-run install-test clean

$(VENV)/.installed-run: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.installed-run
	$(VENV)/bin/pybabel compile --use-fuzzy -d translations -l $* >/dev/null

MO_FILES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations: $(MO_FILES)

install-run: $(VENV)/.installed-run translations
	@bash scripts/apt_ensure.sh $(APT_RUN)

install-test: $(VENV)/.installed-test translations
	@bash scripts/apt_ensure.sh $(APT_TEST)

# the QR codes on licences and notices point at PUBLIC_BASE_URL: the bound address unless set
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install-run
	mkdir -p instance
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask seed demo
	$(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --access-logfile - 'portal:create_app()'

test: install-test lint
	$(PY) scripts/test_all.py $(PYTEST_ARGS)

# Page speed at 1,000,000 cases with wrk beside a bare Flask route, submissions/s through the
# apply flow and the notice PDF, on SQLite and a throwaway PostgreSQL: scripts/bench.py
# (BENCH_ARGS="--quick", "--db sqlite", "--cases 100000", "--page home", "--json" …; the seeded
# databases are kept in .bench-cache/). In-process p95 benchmarks: $(PY) -m pytest -m bench tests/bench
bench: install-run
	@bash scripts/apt_ensure.sh wrk
	$(PY) scripts/bench.py $(BENCH_ARGS)

# Mixed journeys by 50 locust users on two gunicorn nodes, one PostgreSQL (Redis, Celery and an
# S3 store when configured) for SOAK_MINUTES (10); then 0 server errors and no submission lost.
soak: install-test
	$(PY) scripts/soak.py $(SOAK_ARGS)

LINT_PATHS := portal services forms seeds tests scripts

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/bandit -q -r portal services forms seeds --severity-level medium

clean:
	rm -rf $(VENV) .test-results

# Re-extract the translatable strings and merge them into each language's catalogue.
messages: $(VENV)/.installed-run
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* .venv' --no-location --sort-output -o translations/messages.pot . >/dev/null
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations >/dev/null
