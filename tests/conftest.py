import os
import os.path as osp

import pytest
import torch

DATA_DIR = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CANVAS_ROOT = osp.join(REPO_ROOT, 'data', 'digits_canvas')
DIGITS_ROOT = osp.join(REPO_ROOT, 'data', 'digits_cls')


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs ``-n 2``), the controller writes the shared digits
    data before any worker starts, so that no two workers write the same files at once; each
    worker computes with its share of the cores."""
    if hasattr(config, 'workerinput'):
        share_the_cores(config.workerinput['workercount'])
        return
    if not config.pluginmanager.hasplugin('xdist'):
        return
    if config.getoption('numprocesses', None):
        from raftmlp_mm.datasets import write_canvases, write_classification
        write_canvases(CANVAS_ROOT)
        write_classification(DIGITS_ROOT)


def share_the_cores(workers: int):
    """One worker's torch threads: its share of the cores. At torch's default (all cores) in
    every worker, the in-process models of two workers ran twice as many threads as cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    torch.set_num_threads(max(1, (cores or 1) // workers))


@pytest.fixture(scope='session')
def golden():
    """Small models built with the authors' original code, with their inputs and outputs."""
    return torch.load(osp.join(DATA_DIR, 'golden_tiny.pt'))


@pytest.fixture(scope='session')
def digits_canvas():
    """The demo canvases at the demo configs' default data root (written once, deterministic)."""
    from raftmlp_mm.datasets import write_canvases
    return write_canvases(CANVAS_ROOT)


@pytest.fixture(scope='session')
def digits():
    """The classification demo's digits at its default data root (written once, deterministic)."""
    from raftmlp_mm.datasets import write_classification
    return write_classification(DIGITS_ROOT)


@pytest.fixture(autouse=True)
def default_scope_of_its_own():
    """Every test starts with the default scopes the session started with. A Runner leaves its
    scope (e.g. 'mmseg') current in the process (MMEngine's DefaultScope), and a later test's
    registry build would look in that host's registry: tests would depend on which file ran
    before them on the same worker."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


@pytest.fixture
def own_random_state():
    """Seeds a test sets must not change what later tests draw: torch's RNG is restored after."""
    with torch.random.fork_rng():
        yield


# Seconds each test file's default tests took on 2 cores (``pytest --durations=0``, summed per
# file), longest first. Under ``make test``'s two workers a file runs whole on one worker, so
# starting the longest files first keeps both workers busy to the end (longest-processing-time
# first); the Makefile turns off xdist's own order, which sorts files by their number of tests.
# Files not listed here run first: a new file's time is unknown.
FILE_SECONDS = {  # 2026-12-01, 2-core Intel Xeon (AVX-512), two workers: 13.4 min in all
    'test_resume.py': 249, 'test_detection.py': 202, 'test_reliability.py': 141,
    'test_segmentation.py': 123, 'test_classification.py': 118, 'test_inference.py': 96,
    'test_export.py': 94, 'test_training.py': 92, 'test_benchmark.py': 86,
    'test_launchers.py': 77, 'test_model_index.py': 62, 'test_fast_path.py': 41,
    'test_converter.py': 32, 'test_backbone.py': 27, 'test_configs.py': 22,
    'test_install.py': 20, 'test_gpu_check.py': 13, 'test_fidelity.py': 9,
    'test_roi_align.py': 8, 'test_recipes.py': 8, 'test_hosts.py': 2, 'test_mutation_check.py': 1,
    'test_mask_head.py': 1,
    'test_suite_order.py': 1,
}


def pytest_collection_modifyitems(config, items):
    def weight(item):
        name = osp.basename(str(item.fspath))
        return -FILE_SECONDS.get(name, float('inf'))
    items.sort(key=weight)  # stable: a file's tests keep their order
