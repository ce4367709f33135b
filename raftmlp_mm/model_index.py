"""Our classification models in mmpretrain's ModelHub (imported when mmpretrain is installed).

After ``import raftmlp_mm``, ``mmpretrain.list_models('raftmlp*')`` lists every classification
config of configs/classification/metafile.yml, and ``get_model(NAME)`` /
``inference_model(NAME_or_model, img)`` build them. No weights are published, so a model comes
with random weights unless given a local checkpoint: ``get_model(NAME, pretrained='x.pth')``.

Detection and segmentation entries are in the same index (``mim search raftmlp_mm``), but
mmdet's and mmseg's inferencers read only their own package's index: build those from their
config (``mmdet.apis.init_detector(CONFIG, CHECKPOINT)``, ``mmseg.apis.init_model(...)``).

The index lives next to the configs it names: in the package's ``.mim`` folder for a wheel
install (setup.py copies it there), at the checkout's root for an editable install.
"""
import os.path as osp
import warnings
from typing import List, Optional

from mmpretrain.apis import ModelHub

PACKAGE_DIR = osp.dirname(osp.realpath(__file__))
CLASSIFICATION_METAFILE = osp.join('configs', 'classification', 'metafile.yml')


def index_root() -> Optional[str]:
    """The folder holding model-index.yml and configs/, or None (a package without configs)."""
    for root in (osp.join(PACKAGE_DIR, '.mim'), osp.dirname(PACKAGE_DIR)):
        if osp.isfile(osp.join(root, 'model-index.yml')) and \
                osp.isfile(osp.join(root, CLASSIFICATION_METAFILE)):
            return root
    return None


def register_models(root: Optional[str] = None) -> List[str]:
    """Register the classification models with ModelHub (once); return their names."""
    from modelindex.load_model_index import load

    root = root or index_root()
    if root is None:
        return []
    metafile = osp.join(root, CLASSIFICATION_METAFILE)
    names = [model.name.lower() for model in load(metafile).models]
    if not any(ModelHub.has(name) for name in names):
        # config paths in the metafile are relative to the index root
        ModelHub.register_model_index(metafile, config_prefix=root)
    return names


try:
    MODEL_NAMES = register_models()
except Exception as error:  # a broken index must not break training: say so and go on
    warnings.warn(f'raftmlp_mm: model index not registered with mmpretrain: {error!r}')
    MODEL_NAMES = []
