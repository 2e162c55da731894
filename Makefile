# The two commands of the README: `make demo` and `make test` (each sets up what is missing).
.PHONY: setup demo test lint

setup:
	scripts/setup.sh

demo: setup
	.venv/bin/affect-perception demo

test: setup
	scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/python scripts/check_types.py
