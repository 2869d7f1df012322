# molvis: `make demo` sets up and runs the main job on the embedded database; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
MOLVIS := $(VENV)/bin/molvis
DATA ?= ../shared/data

.PHONY: setup demo demo-data demo-shipped test lint docs clean-db browser bench mutate deploy-env

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(MOLVIS) db upgrade
	@if [ -d "$(DATA)/massbank" ]; then $(MAKE) --no-print-directory demo-data; \
	else $(MAKE) --no-print-directory demo-shipped; fi
	$(MOLVIS) stats
	$(MOLVIS) train --config models/configs/tiny.yaml --quiet
	$(MOLVIS) models
	$(MOLVIS) embed
	$(MOLVIS) ui --open

# The team's data under $(DATA) (../shared/data; each folder's README says where it comes from).
demo-data:
	$(MOLVIS) ingest msms $(DATA)/gnps/pesticides.mgf --source gnps-pesticides \
		--licence CC0 --origin "GNPS-COLLECTIONS-PESTICIDES via matchms test data"
	$(MOLVIS) ingest msms $(DATA)/massbank/massbank_ms2.mgf.gz --source massbank-2025.05.1 \
		--licence "per record (LICENSE key)" --origin "MassBank/MassBank-data 13484d4"
	$(MOLVIS) ingest ir $(DATA)/ir/jcamp --source nist-webbook-ir \
		--structure-index $(DATA)/ir/index.tsv --licence "NIST/Coblentz copyright, internal use"
	$(MOLVIS) ingest ccs $(DATA)/ccs/ccs_combined.tsv.gz --source ccs-combined \
		--licence "mixed: C3SDB MIT, AllCCS/ccsbase2 unlicensed, PNNL Apache-2.0"
	$(MOLVIS) ingest ccs $(DATA)/ccs/raw/pnnl_metabolomicsccs --source pnnl-metabolomics-ccs \
		--licence Apache-2.0

# Without it: the openly licensed slice shipped in molvis/demo/ (its README names each full source).
demo-shipped:
	@echo "$(DATA) not found: loading the open demo slice in molvis/demo/ instead."
	@echo "The full sources (molvis/demo/README.md): MassBank/MassBank-data, PNNL-Comp-Mass-Spec/MetabolomicsCCS, molecularsets/moses, dylanhross/c3sdb, GNPS."
	$(MOLVIS) ingest msms molvis/demo/massbank_open.mgf --source massbank-open-demo \
		--licence "per record: CC BY or CC0 (LICENSE key)" --origin "MassBank/MassBank-data 13484d4"
	$(MOLVIS) ingest ccs molvis/demo/pnnl_metabolomics_ccs.tsv --source pnnl-metabolomics-ccs \
		--licence Apache-2.0 --origin "PNNL-Comp-Mass-Spec/MetabolomicsCCS 26d3caa"
	$(MOLVIS) ingest structures molvis/demo/moses_candidates.smi --source moses-demo \
		--licence MIT --origin "molsets 0.3.1 (MOSES test split)"

# Debian's Chromium and ChromeDriver for the headless-browser test (skipped where they are missing).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "chromium could not be installed: the browser test will be skipped"

test: setup browser docs
	$(VENV)/bin/python -m pytest -q --durations=20

# The documentation site from docs/ into .site/; --strict: a broken link fails (and so fails make test).
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: setup
	$(VENV)/bin/ruff check molvis registry migrations models assets ui tests bench
	$(VENV)/bin/ruff format --check molvis registry migrations models assets ui tests bench

clean-db:
	-$(MOLVIS) db stop
	rm -rf .molvis

# Benchmarks (not part of the tests): JSON results under bench/results/, summarised in BENCHMARKS.md.
bench: setup
	$(VENV)/bin/python -m bench.ingest --n 5000
	$(VENV)/bin/python -m bench.fingerprints --n 20000
	$(VENV)/bin/python -m bench.embed --sizes 10000 100000 --batch-sizes 256 1024 --workers 0 1
	$(VENV)/bin/python -m bench.query --sizes 10000 100000 1000000
	$(VENV)/bin/python -m bench.accuracy
	$(VENV)/bin/python -m bench.library --queries 1000 --batch 1000
	$(VENV)/bin/python -m bench.window_search
	$(VENV)/bin/python -m bench.ccs --sizes 10000 100000
	$(VENV)/bin/python -m bench.report --notes bench/NOTES.md

# Mutation testing (not part of `make test`, about an hour on 2 cores): mutmut over every module
# with an identification rule (pyproject [tool.mutmut]), the planted SQL bugs of molvis_search()
# and molvis_ccs_fits(), then the planted Python bugs (tests/mutation/run.py). A shard:
# make mutate MUTANTS='registry.library.flash_index*'. docs/MUTATION.md explains the survivors.
mutate: setup
	$(VENV)/bin/pip install --quiet "mutmut==3.8.*"
	rm -rf mutants
	MOLVIS_SHARED_DATA=$(abspath $(DATA)) $(VENV)/bin/python -m tests.mutation.run $(MUTANTS)

# docker compose's .env: generated database passwords, readable by this user only (kept when
# it exists: the database volume was initialised with them).
deploy-env:
	@if [ -f .env ]; then echo ".env exists: kept"; else (umask 077 && $(PYTHON) -c \
		'import secrets; [print(f"{k}={secrets.token_urlsafe(24)}") for k in ("MOLVIS_DB_PASSWORD", "MOLVIS_READER_PASSWORD")]' \
		> .env) && echo "wrote .env (mode 600)"; fi
