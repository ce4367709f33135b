import os.path as osp

import pytest
import torch

DATA_DIR = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CANVAS_ROOT = osp.join(REPO_ROOT, 'data', 'digits_canvas')
DIGITS_ROOT = osp.join(REPO_ROOT, 'data', 'digits_cls')


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs ``-n 2``), the controller writes the shared digits
    data before any worker starts, so that no two workers write the same files at once."""
    if hasattr(config, 'workerinput') or not config.pluginmanager.hasplugin('xdist'):
        return
    if config.getoption('numprocesses', None):
        from raftmlp_mm.datasets import write_canvases, write_classification
        write_canvases(CANVAS_ROOT)
        write_classification(DIGITS_ROOT)


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
FILE_SECONDS = {}


def pytest_collection_modifyitems(config, items):
    def weight(item):
        name = osp.basename(str(item.fspath))
        return -FILE_SECONDS.get(name, float('inf'))
    items.sort(key=weight)  # stable: a file's tests keep their order
