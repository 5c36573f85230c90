# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The NoisyOffice data set lives outside the project and is never committed; tests and benchmarks
# read its pages from here (override: make bench DDD_DATA=/path/to/noisyoffice-ddd).
DDD_DATA ?= $(abspath ../shared/data/noisyoffice-ddd)
export DDD_DATA

.PHONY: setup ocr-tools fonts run run-stack test check lint bench fuzz compose-test compose-scale-test lock clean

setup: $(STAMP) ocr-tools

# What OCRmyPDF runs (Tesseract, Ghostscript) for the plugin ddd_ocrmypdf, and unpaper, the
# cleaner OCRmyPDF has built in, for the comparison in docs/pdf.md; Debian's packages.
ocr-tools:
	scripts/ensure_debian_packages.sh /usr/bin/unpaper tesseract-ocr tesseract-ocr-eng ghostscript unpaper

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[tf,train,dev,ocr]'
	touch $(STAMP)

# Typefaces for the training page engine (training.page_engine), from Debian's packages: print
# faces and handwriting. Without them training falls back to matplotlib's few faces.
# `make test` installs them too, so the ink-suite tests run on every face they name.
FONT_PACKAGES := fonts-dejavu-core fonts-liberation fonts-urw-base35 fonts-freefont-ttf \
	fonts-noto-core fonts-crosextra-carlito fonts-crosextra-caladea fonts-dkg-handwriting \
	fonts-breip fonts-bwht fonts-femkeklaver fonts-dancingscript
fonts:
	scripts/ensure_debian_packages.sh /usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf $(FONT_PACKAGES)

run: setup
	scripts/ensure_mariadb.sh --optional
	-$(PY) -m api.log.schema
	$(PY) -m api

run-stack: setup
	scripts/ensure_mariadb.sh
	$(PY) -m api.log.schema
	scripts/run_stack.sh

# Worker processes for `make test`; each holds its own models and servers.
# Three on two cores: most tests wait on the servers they start, so a third worker fills the gaps.
TEST_WORKERS ?= 3
test: setup fonts
	scripts/ensure_mariadb.sh
	scripts/ensure_debian_packages.sh /usr/bin/chromium chromium chromium-driver libatomic1
	scripts/ensure_debian_packages.sh /usr/sbin/nginx nginx-light
	scripts/ensure_debian_packages.sh /usr/bin/jq jq curl  # the README's curl example (test_readme)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

# The quick tier for the edit loop (about a minute): lint, then the tests marked quick.
check: setup
	scripts/ensure_mariadb.sh
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m quick

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	scripts/ensure_mariadb.sh
	$(PY) -m bench

# The fuzzers long: the property-based and schema-driven tests with FUZZ_EXAMPLES cases each
# (make test runs 10), then coverage-guided fuzzing (atheris), FUZZ_SECONDS per target; corpora
# and findings in var/fuzz.
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 100
fuzz: setup
	scripts/ensure_mariadb.sh
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_hostile.py tests/test_openapi.py tests/test_fuzz.py
	$(PY) -m fuzz.corpus var/fuzz
	mkdir -p var/fuzz/findings
	$(PY) -m fuzz.decode -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=var/fuzz/findings/decode- var/fuzz/decode
	$(PY) -m fuzz.route -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=var/fuzz/findings/route- var/fuzz/route
	$(PY) -m fuzz.framing -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=8192 \
		-artifact_prefix=var/fuzz/findings/framing- var/fuzz/framing
	$(PY) -m fuzz.shapes -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=64 \
		-artifact_prefix=var/fuzz/findings/shapes- var/fuzz/shapes

compose-test:
	scripts/compose_test.sh

# Two API and two serving replicas behind the front; one of each killed under load.
compose-scale-test:
	scripts/compose_scale_test.sh

# The hashed lock files the API image installs from (Dockerfile), made from pyproject.toml; rerun
# after changing its dependencies (tests/test_lock_files.py fails while they disagree). Needs uv.
UV ?= uv
LOCK = $(UV) pip compile --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock:
	$(LOCK) pyproject.toml --no-emit-package setuptools -o requirements.lock
	$(PYTHON) docker/pyproject_deps.py pyproject.toml dev | grep '^grpcio-tools' \
		| $(LOCK) - -o docker/protoc.lock

clean:
	rm -rf $(VENV) .pytest_cache
