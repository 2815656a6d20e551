# The two commands of the README. Each does its own set-up into .venv first.
.PHONY: render test setup

render:
	scripts/setup.sh
	.venv/bin/narrator render examples/catalog.csv --reference examples/reference.wav --out out/ \
	    --consent examples/consent.wav --speaker 林小雨 --company 星光电器

test:
	scripts/setup.sh --test
	.venv/bin/python -m pytest -q
