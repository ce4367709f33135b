import json
import math
import os.path as osp
import platform
import sys

import mmengine
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from ..registry import HOOKS
from ..version import __version__


@HOOKS.register_module()
class StopOnNonFiniteLoss(Hook):
    """Stop training at the first NaN or inf loss, before a checkpoint of broken weights is saved.

    Runs before CheckpointHook (priority VERY_LOW), so the last checkpoint in the work dir stays
    the last good one. The error names the iteration and that checkpoint.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        losses = {k: float(v) for k, v in (outputs or {}).items() if 'loss' in k}
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if not bad:
            return
        last = osp.join(runner.work_dir, 'last_checkpoint')
        good = open(last).read().strip() if osp.isfile(last) else None
        kept = (f'the last good checkpoint is {good} (resume from it with --resume)' if good
                else 'no checkpoint was saved before it')
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        raise RuntimeError(
            f'non-finite loss at {where}: {bad}. Training stopped; {kept}. Fix: lower the lr '
            '(optim_wrapper.optimizer.lr), clip gradients (optim_wrapper.clip_grad='
            'dict(max_norm=...)) or check the data and the loss weights.')


@HOOKS.register_module()
class RecordRunInfo(Hook):
    """Write ``<log dir>/run_info.json`` at the start of training: the seed actually used, the
    randomness settings, the world size, what the run resumed from and the command line.

    MMEngine already dumps the resolved config (``<work dir>/<config name>.py``, and per run
    ``<log dir>/vis_data/config.py``); with seed=None that config does not say which seed was
    drawn. The unreadable checkpoints a resume passed over (the seeded train loops record them,
    ``resume.py``) are listed as ``[path, problem]`` pairs and logged into the run log too.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner):
        skipped = [list(item) for item in getattr(runner.train_loop, 'skipped_checkpoints', ())]
        for path, problem in skipped:
            runner.logger.warning(f'resume skipped {path}: {problem}')
        if not is_main_process():
            return
        cfg = runner.cfg
        info = dict(
            seed=runner.seed,
            randomness=dict(runner._randomness_cfg),
            world_size=runner.world_size,
            launcher=runner.launcher,
            train_loop=type(runner.train_loop).__name__,
            # the checkpoint the resume chose (resume.py), which the config may not name
            resumed_from=runner._load_from if runner._resume else None,
            skipped_checkpoints=skipped,
            start_epoch=runner.epoch,
            start_iter=runner.iter,
            config=cfg.filename,
            command=[sys.executable] + sys.argv,
            threads=torch.get_num_threads(),
            versions=dict(python=platform.python_version(), torch=torch.__version__,
                          mmengine=mmengine.__version__, raftmlp_mm=__version__))
        with open(osp.join(runner.log_dir, 'run_info.json'), 'w') as f:
            json.dump(info, f, indent=2, default=str)
