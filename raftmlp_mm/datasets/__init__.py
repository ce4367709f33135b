"""Datasets and batch augments; the ones built on a host register only when that host is there.

The digits writers need neither host; ``INaturalist`` and ``SequentialMixupCutMix`` need
mmpretrain, ``DigitsSegDataset`` needs mmseg.
"""
import importlib.util

from .digits import DIGIT_CLASSES, write_canvases, write_classification

__all__ = ['DIGIT_CLASSES', 'write_canvases', 'write_classification']

if importlib.util.find_spec('mmpretrain') is not None:
    from .batch_augments import SequentialMixupCutMix  # noqa: F401
    from .inaturalist import INaturalist  # noqa: F401
    __all__ += ['INaturalist', 'SequentialMixupCutMix']
if importlib.util.find_spec('mmseg') is not None:
    from .digits_seg import DigitsSegDataset  # noqa: F401
    __all__ += ['DigitsSegDataset']
