# Tide CRM. `make run` and `make test` work on a fresh clone; see README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export TIDE_DEBUG ?= 1

.PHONY: run test deps bench lint migrate demo browsers clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed node_modules/.installed

migrate: deps
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py compilemessages_py

demo: migrate
	$(PY) manage.py demo --if-empty --scale $${SCALE:-2000}

# The web server plus, in the background, one job worker (imports, sweeps) and the scheduler;
# all three stop together with Ctrl-C.
run: demo
	$(PY) manage.py demo_logins
	@$(PY) manage.py db_worker --queue-name '*' --no-reload >var/worker.log 2>&1 & worker=$$!; \
	$(PY) manage.py scheduler >var/scheduler.log 2>&1 & scheduler=$$!; \
	trap 'kill $$worker $$scheduler 2>/dev/null' EXIT INT TERM; \
	echo "job worker and scheduler running (logs in var/worker.log, var/scheduler.log)"; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: deps
	$(PY) manage.py compilemessages_py
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: deps
	$(VENV)/bin/ruff check .

bench: deps
	$(PY) manage.py compilemessages_py
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/imports.py --rows $${IMPORT_ROWS:-100000} $(if $(findstring --write,$(BENCH_ARGS)),--write,)

clean:
	rm -rf $(VENV) node_modules var
