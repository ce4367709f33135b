import math
import os.path as osp

from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from ..registry import HOOKS


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
