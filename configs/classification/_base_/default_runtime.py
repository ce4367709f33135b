# Runtime shared by every classification config: mmpretrain's (hooks, logging, visualizer) plus
# the plugin import, the original's seed and its checkpoint policy, and what makes a killed run
# resumable to the same result (docs/reliability.md): atomic checkpoints, the non-finite-loss
# stop and the run record. The seeded train loop is named by the schedules (train_cfg).
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_scope = 'mmpretrain'
custom_imports = dict(imports=['raftmlp_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # The original keeps the best checkpoint (val top-1) and the last one; transfer learning and
    # the dense tasks start from the last (epoch_<max_epochs>.pth).
    checkpoint=dict(type='raftmlp_mm.SafeCheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='auto'))
custom_hooks = [dict(type='raftmlp_mm.StopOnNonFiniteLoss'), dict(type='raftmlp_mm.RecordRunInfo')]

# seed 42 + rank for each process's dropout and batch draws, as the original; the seeded loop
# seeds each sample's augmentation from 42 alone, so any number of processes draws the same
randomness = dict(seed=42, diff_rank_seed=True)
