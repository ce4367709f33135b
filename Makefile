# `make test` and `make demo` set everything up from nothing (a fresh .venv) and are idempotent.
# mmcv 2.1.0 ships only as an sdist on PyPI: it is compiled once with its CPU ops (about 6 minutes on
# 2 cores) and pip's wheel cache reuses the result afterwards.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Every install is constrained by build.txt, so no dependency (e.g. a new opencv wanting numpy 2)
# can move torch, numpy or setuptools away from the tested pins.
PIP := $(PY) -m pip
PIP_INSTALL := $(PIP) install -c requirements/build.txt
STAMP := $(VENV)/.raftmlp_mm-installed
PYTEST_ARGS ?=

.PHONY: install test test-all demo demo-cls demo-seg clean-venv check-install

install: $(STAMP)

$(STAMP): requirements/build.txt requirements/runtime.txt requirements/mminstall.txt \
		requirements/tests.txt requirements/optional.txt requirements/nodeps.txt \
		setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP_INSTALL) -r requirements/build.txt
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$${MAX_JOBS:-2} \
		$(PIP_INSTALL) --no-build-isolation "$$(grep '^mmcv' requirements/mminstall.txt)"
	$(PIP_INSTALL) -r requirements/mminstall.txt -r requirements/runtime.txt \
		-r requirements/tests.txt -r requirements/optional.txt
	$(PIP_INSTALL) --no-deps -r requirements/nodeps.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PY) tools/misc/check_install.py
	touch $(STAMP)

check-install: $(STAMP)
	$(PY) tools/misc/check_install.py

# The default suite; `make test-all` adds the slow end-to-end training tests.
test: $(STAMP)
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) tools/demo.py

clean-venv:
	rm -rf $(VENV)
