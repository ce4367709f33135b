"""Installing into the environment a user already has: setup.py declares ranges (and the hosts
as optional extras), the Makefile installs the exact tested set, and `import raftmlp_mm` works
with only the host a user needs."""
import importlib.metadata
import json
import os.path as osp
import re
import runpy
import shutil
import subprocess
import sys
from unittest import mock

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from .conftest import REPO_ROOT
from .utils import tool_env

FOUNDATIONS = ('mmengine', 'mmcv')
HOSTS = {'mmdet': 'mmdet', 'mmseg': 'mmsegmentation', 'mmpretrain': 'mmpretrain'}  # module: dist
TESTED = {'mmengine': '0.10.7', 'mmcv': '2.1.0', 'mmdet': '3.3.0', 'mmsegmentation': '1.2.2',
          'mmpretrain': '1.2.0'}
PINNED_ELSEWHERE = ('torch', 'torchvision', 'numpy')  # build.txt


def setup_kwargs():
    with mock.patch('setuptools.setup') as setup:
        runpy.run_path(osp.join(REPO_ROOT, 'setup.py'), run_name='__main__')
    return setup.call_args.kwargs


def requirement_lines(name):
    with open(osp.join(REPO_ROOT, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def test_setup_declares_ranges_and_makes_the_hosts_optional():
    kwargs = setup_kwargs()
    required = {Requirement(r).name: Requirement(r) for r in kwargs['install_requires']}
    for name in FOUNDATIONS:
        spec = required[name].specifier
        assert spec and not any(s.operator in ('==', '===', '~=') for s in spec), spec
    assert not set(HOSTS.values()) & set(required), 'hosts must be optional extras'
    for name in PINNED_ELSEWHERE:  # no exact pins of torch & co. either
        assert name not in required or not any(
            s.operator == '==' for s in required[name].specifier)
    extras = {extra: {Requirement(r).name: Requirement(r) for r in reqs}
              for extra, reqs in kwargs['extras_require'].items()}
    for extra, dist in (('det', 'mmdet'), ('seg', 'mmsegmentation'), ('cls', 'mmpretrain')):
        spec = extras[extra][dist].specifier
        assert spec and not any(s.operator in ('==', '===', '~=') for s in spec), spec
        assert set(extras[extra]) <= set(extras['hosts'])
    # the tested versions are inside the declared ranges
    declared = {**required, **extras['hosts']}
    for dist, version in TESTED.items():
        assert declared[dist].specifier.contains(version), (dist, declared[dist])


def test_makefile_installs_the_exact_tested_set():
    pins = {r.name: r for r in map(Requirement, requirement_lines('constraints'))}
    assert {name: str(r.specifier) for name, r in pins.items()} == {
        name: f'=={v}' for name, v in TESTED.items()}
    if shutil.which('make') is None:
        pytest.skip('make is not installed')
    dry_run = subprocess.run(['make', '-n', '-B', 'install'], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=60)
    assert dry_run.returncode == 0, dry_run.stderr
    commands = re.sub(r'\\\n\s*', ' ', dry_run.stdout).splitlines()  # join continued lines
    installs = [line for line in commands if ' -m pip install' in line]
    requirement_installs = [line for line in installs if ' -r ' in line or 'mmcv' in line]
    assert requirement_installs
    for line in requirement_installs:  # every install of a requirement is constrained
        assert '-c requirements/constraints.txt' in line and '-c requirements/build.txt' in line
    assert any('-r requirements/hosts.txt' in line for line in requirement_installs)
    assert any('requirements/constraints.txt)' in line and 'grep' in line for line in installs)


def test_the_environment_has_the_tested_set():
    """This suite runs in the Makefile's environment: it must hold exactly the pinned versions."""
    for dist, version in TESTED.items():
        assert importlib.metadata.version(dist) == version, dist
    assert Version(importlib.metadata.version('torch')).base_version == '2.1.2'


# Runs in a fresh interpreter: hides every host but one from the import system (site-packages
# is replaced on sys.path by a view of it without the hidden hosts' packages and metadata, so
# `import mmseg` and importlib.util.find_spec('mmseg') behave as if it were not installed), then
# imports raftmlp_mm and builds the backbone and a demo model from the remaining host.
ONLY_ONE_HOST = r'''
import importlib, importlib.util, json, os, sys, tempfile
present = sys.argv[1]
hidden = {'mmdet', 'mmseg', 'mmsegmentation', 'mmpretrain'} - {present}
if present == 'mmseg':
    hidden.discard('mmsegmentation')

def dist_name(entry):
    return entry.split('-')[0].split('.')[0].lower()

for i, path in enumerate(list(sys.path)):
    if os.path.basename(path) == 'site-packages' and os.path.isdir(path):
        view = tempfile.mkdtemp(prefix='site-packages-view-')
        for entry in os.listdir(path):
            if dist_name(entry) not in hidden:
                os.symlink(os.path.join(path, entry), os.path.join(view, entry))
        sys.path[i] = view
sys.path_importer_cache.clear()
importlib.invalidate_caches()
for name in hidden:
    assert importlib.util.find_spec(name) is None, name
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError(f'{name} is still importable')

import torch
import raftmlp_mm
from mmengine.config import Config
from mmengine.registry import DefaultScope
MODELS = importlib.import_module(f'{present}.registry').MODELS
with DefaultScope.overwrite_default_scope(present):
    backbone = MODELS.build(dict(type='raftmlp_mm.RaftMLP', arch='small', out_indices=(0, 1, 2, 3)))
    with torch.no_grad():
        outs = backbone.eval()(torch.randn(1, 3, 64, 64))
    demo = {'mmdet': 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py',
            'mmseg': 'configs/segmentation/demo/fpn_raftmlp_s_digits.py',
            'mmpretrain': 'configs/classification/demo/raftmlp_s_digits.py'}[present]
    model = MODELS.build(Config.fromfile(demo).model)
print(json.dumps({
    'backbone': type(backbone).__name__,
    'channels': [o.shape[1] for o in outs],
    'demo_model': type(model).__name__,
    'loaded_hosts': sorted(m for m in ('mmdet', 'mmseg', 'mmpretrain') if m in sys.modules),
    'datasets': sorted(raftmlp_mm.datasets.__all__),
    'batch_augments': raftmlp_mm.registry.BATCH_AUGMENTS is not None,
    'model_index': hasattr(raftmlp_mm, 'model_index'),
}))
'''


@pytest.mark.parametrize('host,demo_model', [('mmdet', 'MaskRCNN'), ('mmseg', 'EncoderDecoder'),
                                             ('mmpretrain', 'ImageClassifier')])
def test_import_with_only_one_host(host, demo_model):
    result = subprocess.run([sys.executable, '-c', ONLY_ONE_HOST, host], cwd=REPO_ROOT,
                            env=tool_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['backbone'] == 'RaftMLP' and report['channels'] == [64, 128, 256, 512]
    assert report['demo_model'] == demo_model
    assert report['loaded_hosts'] == [host]
    # host-specific pieces register exactly when their host is there
    assert ('INaturalist' in report['datasets']) == (host == 'mmpretrain')
    assert ('SequentialMixupCutMix' in report['datasets']) == (host == 'mmpretrain')
    assert report['batch_augments'] == (host == 'mmpretrain')
    assert report['model_index'] == (host == 'mmpretrain')
    assert ('DigitsSegDataset' in report['datasets']) == (host == 'mmseg')
    assert 'write_classification' in report['datasets']


def test_docs_state_tested_versions_and_declared_ranges():
    with open(osp.join(REPO_ROOT, 'docs', 'install.md')) as f:
        install = f.read()
    for dist, version in TESTED.items():
        assert re.search(rf'{dist}\W[^\n]*{re.escape(version)}', install), dist
    for line in requirement_lines('mminstall') + requirement_lines('hosts'):
        if Requirement(line).specifier:  # as written in the file, e.g. mmdet>=3.0.0,<4.0.0
            assert line in install, line


def test_import_loads_no_host_models_or_datasets():
    """``import raftmlp_mm`` (every launcher's ``custom_imports``) costs no host's model zoo.

    The host-built datasets and batch augments register when a config first looks them up;
    importing mmpretrain's models (which import mmdet's) or mmseg's datasets eagerly cost every
    detection and segmentation process seconds.
    """
    code = ('import sys, raftmlp_mm\n'
            'print(sorted(m for m in ("mmpretrain.models", "mmpretrain.datasets", "mmdet.models",'
            ' "mmseg.datasets", "mmseg.models") if m in sys.modules))')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, env=tool_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().splitlines()[-1] == '[]'
