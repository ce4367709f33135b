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

# The main job: Mask R-CNN + RaftMLP-S on the built-in digits canvases (tools/demo.py).
demo: $(STAMP)
	$(PY) tools/demo.py

# RaftMLP-S classifier on the built-in digits (about a minute on 2 cores).
demo-cls: $(STAMP)
	$(PY) tools/misc/make_digits.py
	$(PY) tools/train.py configs/classification/demo/raftmlp_s_digits.py \
		--work-dir work_dirs/raftmlp_s_digits
	$(PY) tools/test.py configs/classification/demo/raftmlp_s_digits.py \
		work_dirs/raftmlp_s_digits/epoch_5.pth --work-dir work_dirs/raftmlp_s_digits/test

# Semantic FPN + RaftMLP-S on the digits canvases in ADE20K's layout. One thread per process:
# more threads than free cores slow a small machine down badly.
demo-seg: $(STAMP)
	$(PY) tools/misc/make_digits.py
	OMP_NUM_THREADS=1 $(PY) tools/train.py configs/segmentation/demo/fpn_raftmlp_s_digits.py \
		--work-dir work_dirs/demo_seg

clean-venv:
	rm -rf $(VENV)
