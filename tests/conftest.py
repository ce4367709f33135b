import os.path as osp

import pytest
import torch

DATA_DIR = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def golden():
    """Small models built with the authors' original code, with their inputs and outputs."""
    return torch.load(osp.join(DATA_DIR, 'golden_tiny.pt'))


@pytest.fixture(scope='session')
def digits_canvas():
    """The demo canvases at the demo configs' default data root (written once, deterministic)."""
    from raftmlp_mm.datasets import write_canvases
    return write_canvases(osp.join(REPO_ROOT, 'data', 'digits_canvas'))


@pytest.fixture(scope='session')
def digits():
    """The classification demo's digits at its default data root (written once, deterministic)."""
    from raftmlp_mm.datasets import write_classification
    return write_classification(osp.join(REPO_ROOT, 'data', 'digits_cls'))


@pytest.fixture
def own_random_state():
    """Seeds a test sets must not change what later tests draw: torch's RNG is restored after."""
    with torch.random.fork_rng():
        yield
