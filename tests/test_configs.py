"""Every config names what runs, so every launcher runs the same program.

tools/train.py, tools/dist_train.sh, detection.sh, segmentation.sh, slurm_train.sh, ``mim train``
(the hosts' own tools/train.py) and ``Runner.from_cfg`` build the train loop and the hooks the
config names; tests/test_resume.py and tests/test_detection.py kill and resume through them.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import HOOKS, LOOPS, DefaultScope

from .conftest import REPO_ROOT

CONFIGS = sorted(osp.relpath(path, REPO_ROOT)
                 for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                                       recursive=True)
                 if '_base_' not in path.split(osp.sep))
SEEDED_LOOPS = {'raftmlp_mm.ExactResumeEpochBasedTrainLoop',
                'raftmlp_mm.ExactResumeIterBasedTrainLoop'}
RUN_HOOKS = ['raftmlp_mm.StopOnNonFiniteLoss', 'raftmlp_mm.RecordRunInfo']


def test_every_host_and_the_demos_are_covered():
    for folder in ('classification', 'classification/finetune', 'classification/demo',
                   'detection', 'detection/demo', 'segmentation', 'segmentation/demo'):
        assert any(osp.dirname(c) == osp.join('configs', folder) for c in CONFIGS), folder


@pytest.mark.parametrize('config', CONFIGS)
def test_config_names_the_seeded_loop_atomic_checkpoints_and_run_hooks(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.custom_imports.imports == ['raftmlp_mm']
    assert cfg.train_cfg.type in SEEDED_LOOPS and 'by_epoch' not in cfg.train_cfg
    assert cfg.default_hooks.checkpoint.type == 'raftmlp_mm.SafeCheckpointHook'
    assert [h.type for h in cfg.custom_hooks if h.type in RUN_HOOKS] == RUN_HOOKS
    # the names resolve from the host's scope, as the Runner builds them
    import raftmlp_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert LOOPS.get(cfg.train_cfg.type).__name__ == cfg.train_cfg.type.split('.')[1]
        for name in [cfg.default_hooks.checkpoint.type] + RUN_HOOKS:
            assert HOOKS.get(name).__name__ == name.split('.')[1]
