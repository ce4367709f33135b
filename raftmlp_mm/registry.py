"""The plugin's registries, children of MMEngine's root registries (and of mmpretrain's batch
augment registry, which has no MMEngine parent).

Configs of any host (mmpretrain, mmdet, mmseg) reach our modules with a scoped type such as
``type='raftmlp_mm.RaftMLP'``: MMEngine imports this module on the first lookup of the
``raftmlp_mm`` scope and walks to the child registry, whatever the config's ``default_scope``.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='raftmlp_mm',
                  locations=['raftmlp_mm.models', 'raftmlp_mm.models.hosted'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='raftmlp_mm',
                    locations=['raftmlp_mm.datasets.hosted'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='raftmlp_mm',
                 locations=['raftmlp_mm.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='raftmlp_mm',
                          locations=['raftmlp_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='raftmlp_mm', locations=['raftmlp_mm.engine'])

try:  # mmpretrain's ClsDataPreprocessor builds batch augments from its own registry
    from mmpretrain.registry import BATCH_AUGMENTS as MMPRETRAIN_BATCH_AUGMENTS
except ImportError:  # a detection- or segmentation-only environment
    BATCH_AUGMENTS = None
else:
    BATCH_AUGMENTS = Registry('batch augment', parent=MMPRETRAIN_BATCH_AUGMENTS,
                              scope='raftmlp_mm', locations=['raftmlp_mm.datasets.hosted'])
