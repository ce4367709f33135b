"""Hooks that record what a training subprocess built (imported by the trainer through a
config's ``type='tests.probes.<Hook>'``; see tests/utils.py ``killer_config``)."""
import json
import os.path as osp

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook


class RecordModuleTypes(Hook):
    """Write the class name of every module of the model the Runner trains (the DDP wrapper
    included) to ``<work_dir>/modules_rank<rank>.json``, with the world size."""

    def before_train(self, runner):
        names = sorted({type(module).__name__ for module in runner.model.modules()})
        with open(osp.join(runner.work_dir, f'modules_rank{get_rank()}.json'), 'w') as f:
            json.dump(dict(world_size=get_world_size(), modules=names), f)
