# `make test` and `make demo` set everything up from nothing (a fresh .venv) and are idempotent.
# mmcv 2.1.0 ships only as an sdist on PyPI: it is compiled once with its CPU ops (about 6 minutes on
# 2 cores) and pip's wheel cache reuses the result afterwards.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Every install is constrained by build.txt and constraints.txt, the exact tested set: setup.py
# and the requirement files declare ranges, and no dependency (e.g. a new opencv wanting numpy 2)
# can move torch, numpy, setuptools or an OpenMMLab package away from the tested pins.
PIP := $(PY) -m pip
PIP_INSTALL := $(PIP) install -c requirements/build.txt -c requirements/constraints.txt
STAMP := $(VENV)/.raftmlp_mm-installed
PYTEST_ARGS ?=

.PHONY: install test test-all lint mutation-check gpu-check demo demo-cls demo-seg clean-venv \
	check-install

install: $(STAMP)

$(STAMP): requirements/build.txt requirements/constraints.txt requirements/runtime.txt \
		requirements/mminstall.txt requirements/hosts.txt requirements/tests.txt \
		requirements/optional.txt requirements/nodeps.txt setup.py pyproject.toml \
		model-index.yml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP_INSTALL) -r requirements/build.txt
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$${MAX_JOBS:-2} \
		$(PIP_INSTALL) --no-build-isolation "$$(grep '^mmcv' requirements/constraints.txt)"
	$(PIP_INSTALL) -r requirements/mminstall.txt -r requirements/hosts.txt \
		-r requirements/runtime.txt -r requirements/tests.txt -r requirements/optional.txt
	$(PIP_INSTALL) --no-deps -r requirements/nodeps.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PY) tools/misc/check_install.py
	touch $(STAMP)

check-install: $(STAMP)
	$(PY) tools/misc/check_install.py

# The default suite; `make test-all` adds the slow end-to-end training tests. Both run two
# pytest-xdist workers, a test file per worker at a time: most tests launch the real tools in
# subprocesses of one thread each, so a second worker uses the otherwise idle second core. The
# files start longest first (tests/conftest.py), not in xdist's order by number of tests.
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile \
	--no-loadscope-reorder,)
test: $(STAMP)
	$(PY) -m pytest tests -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest tests $(XDIST) $(PYTEST_ARGS)

# OpenMMLab's linters (settings in setup.cfg); CI runs this before the tests.
LINTED := raftmlp_mm tools tests configs setup.py
lint: $(STAMP)
	$(PY) -m flake8 $(LINTED)
	$(PY) -m isort --check-only --diff $(LINTED)

# Plants known faults one at a time in a copy of the checkout and reports which tests catch
# each (tools/misc/mutation_check.py; about 20 minutes on 2 cores).
mutation-check: $(STAMP)
	$(PY) tools/misc/mutation_check.py

# The GPU path in one run (mmcv ops, golden tensors, AMP training per host, benchmark); on a
# machine without CUDA: make gpu-check DEVICE=cpu.
DEVICE ?= cuda
gpu-check: $(STAMP)
	$(PY) tools/misc/gpu_check.py --device $(DEVICE)

# The main job: Mask R-CNN + RaftMLP-S on the built-in digits canvases (tools/demo.py); ends by
# drawing predictions on held-out canvases (work_dirs/demo_maskrcnn_digits/predictions.png).
demo: $(STAMP)
	$(PY) tools/demo.py

# RaftMLP-S classifier on the built-in digits (about a minute on 2 cores); ends with the
# confusion matrix and the misclassified digits (work_dirs/raftmlp_s_digits/*.png).
demo-cls: $(STAMP)
	$(PY) tools/misc/make_digits.py
	$(PY) tools/train.py configs/classification/demo/raftmlp_s_digits.py \
		--work-dir work_dirs/raftmlp_s_digits
	$(PY) tools/test.py configs/classification/demo/raftmlp_s_digits.py \
		work_dirs/raftmlp_s_digits/epoch_5.pth --work-dir work_dirs/raftmlp_s_digits/test
	$(PY) tools/misc/visualize_classification.py configs/classification/demo/raftmlp_s_digits.py \
		work_dirs/raftmlp_s_digits/epoch_5.pth --out-dir work_dirs/raftmlp_s_digits

# Semantic FPN + RaftMLP-S on the digits canvases in ADE20K's layout. One thread per process:
# more threads than free cores slow a small machine down badly. Ends with overlays of held-out
# canvases (work_dirs/demo_seg/overlays/).
demo-seg: $(STAMP)
	$(PY) tools/misc/make_digits.py
	OMP_NUM_THREADS=1 $(PY) tools/train.py configs/segmentation/demo/fpn_raftmlp_s_digits.py \
		--work-dir work_dirs/demo_seg
	OMP_NUM_THREADS=1 $(PY) tools/misc/visualize_segmentation.py \
		configs/segmentation/demo/fpn_raftmlp_s_digits.py work_dirs/demo_seg/iter_1600.pth \
		--out-dir work_dirs/demo_seg/overlays

clean-venv:
	rm -rf $(VENV)
