"""tools/model_converters/raftmlp_to_mmpretrain.py on original checkpoints."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from raftmlp_mm.models.convert import (CheckpointMismatchError, arch_from_original_config,
                                       convert_to_mmpretrain, detect_arch)

from .conftest import REPO_ROOT
from .test_backbone import read_reference

SCRIPT = osp.join(REPO_ROOT, 'tools', 'model_converters', 'raftmlp_to_mmpretrain.py')


def run_converter(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                          text=True)


def fake_original(name):
    """A small-valued original state_dict with the exact keys and shapes of a published arch."""
    _, shapes = read_reference(name)
    return {k: torch.full(s, 0.5) for k, s in shapes.items()}


@pytest.mark.parametrize('name', ['small', 'hierarchy-medium', 'raft-r2', 'org-mixer'])
def test_detects_published_arch(name):
    state = {k: torch.empty(v.shape, device='meta') for k, v in fake_original(name).items()}
    arch, _ = detect_arch(state)
    assert arch == name


def test_cli_converts_nested_checkpoint_and_never_overwrites(tmp_path):
    src = tmp_path / 'original.pt'
    torch.save(dict(model=fake_original('small'), epoch=305), src)
    dst = tmp_path / 'out' / 'raftmlp_s.pth'
    result = run_converter(src, dst)
    assert result.returncode == 0, result.stderr
    assert 'arch small' in result.stdout
    converted = torch.load(dst)
    assert converted['meta']['num_classes'] == 1000
    assert all(k.startswith(('backbone.', 'head.fc.')) for k in converted['state_dict'])
    # an existing DST is kept unless --force
    dst.write_bytes(b'precious')
    result = run_converter(src, dst)
    assert result.returncode != 0 and '--force' in result.stderr
    assert dst.read_bytes() == b'precious'
    assert run_converter(src, dst, '--force').returncode == 0
    assert torch.load(dst)['meta']['arch'] == 'small'


def test_cli_wrong_arch_names_the_differing_keys(tmp_path):
    src = tmp_path / 'small.pt'
    torch.save(fake_original('small'), src)
    result = run_converter(src, tmp_path / 'out.pth', '--arch', 'medium')
    assert result.returncode != 0
    assert 'levels.0.fn.0.fc.weight' in result.stderr and '(96, 240)' in result.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_cli_truncated_file(tmp_path):
    src = tmp_path / 'small.pt'
    torch.save(fake_original('small'), src)
    data = src.read_bytes()
    src.write_bytes(data[:len(data) // 3])
    result = run_converter(src, tmp_path / 'out.pth')
    assert result.returncode != 0 and 'cannot read' in result.stderr and str(src) in result.stderr


def test_missing_keys_are_reported(golden):
    case = golden['tiny-single-level-raft4']
    arch = arch_from_original_config(case['config'])
    state = dict(case['state_dict'])
    state.pop('levels.0.fn.3.5.fn.0.weight')
    # the backbone's own loading decides, so the converter reports what training would
    with pytest.raises(CheckpointMismatchError, match=r'missing keys \(1\):\n    '
                                                      r'levels\.0\.blocks\.1\.channel_mlp\.fc1'):
        convert_to_mmpretrain(state, arch=arch)
