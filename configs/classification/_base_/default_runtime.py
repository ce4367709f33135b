# Runtime shared by every classification config: mmpretrain's (hooks, logging, visualizer) plus
# the plugin import, the original's seed and its checkpoint policy.
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_scope = 'mmpretrain'
custom_imports = dict(imports=['raftmlp_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # The original keeps the best checkpoint (val top-1) and the last one; transfer learning and
    # the dense tasks start from the last (epoch_<max_epochs>.pth).
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1, save_best='auto'))

randomness = dict(seed=42, diff_rank_seed=True)  # seed 42 + rank, as the original
