"""RaftMLP (Tatsunami & Taki, arXiv 2108.04384) as an OpenMMLab backbone.

Importing the package registers the backbone, so ``custom_imports=dict(imports=['raftmlp_mm'])``
in a config is enough for mmpretrain, mmdet and mmseg to build ``type='raftmlp_mm.RaftMLP'``.
It also registers the classification recipes' extras (``raftmlp_mm.classification``); that
imports mmpretrain, which mmdet and mmseg import anyway.
"""
from . import classification  # noqa: F401  (registers SequentialMixupCutMix, INaturalist)
from . import engine  # noqa: F401  (registers the non-finite-loss hook, CPU bf16 AMP)
from .models import RaftMLP  # noqa: F401  (registers the backbone)
from .version import __version__  # noqa: F401
