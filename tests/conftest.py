import os.path as osp

import pytest
import torch

DATA_DIR = osp.join(osp.dirname(__file__), 'data')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def golden():
    """Small models built with the authors' original code, with their inputs and outputs."""
    return torch.load(osp.join(DATA_DIR, 'golden_tiny.pt'))


