# bdnn: `make demo` (set up, train a bundled data set, export, verify), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BDNN := $(VENV)/bin/bdnn
OUT ?= demo_out
# tests run in this many processes (pytest-xdist); TEST_JOBS=0 runs them in this one
TEST_JOBS ?= 2

.PHONY: demo test test-quick lint toolchains bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	mkdir -p $(OUT)
	$(BDNN) train iris --hidden 3 --time-limit 60 --seed 0 -o $(OUT)/iris.json
	$(BDNN) info $(OUT)/iris.json
	$(BDNN) evaluate $(OUT)/iris.json iris
	$(BDNN) export $(OUT)/iris.json --c $(OUT)/c --onnx $(OUT)/iris.onnx --name iris
	$(BDNN) verify $(OUT)/iris.json iris --random 1000
	@echo
	@echo "bdnn is installed in $(VENV): run '. $(VENV)/bin/activate' to put 'bdnn' on your PATH"
	@echo "(or call $(BDNN) directly)"

test: $(VENV)/.installed
	$(PY) -m pytest -q -n $(TEST_JOBS)

# the suite without the slow tests and the microcontroller toolchains (about 2 minutes)
test-quick: $(VENV)/.installed
	$(PY) -m pytest -q -n $(TEST_JOBS) -m "not slow and not toolchain"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bdnn codegen tests benchmarks

toolchains:
	bash .ci/install-toolchains.sh

bench: $(VENV)/.installed
	$(PY) benchmarks/train_exact.py --out docs/benchmarks-train.md

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info
