"""Datasets and batch augments; the ones built on a host exist only when that host is there.

The digits writers need neither host. ``INaturalist`` and ``SequentialMixupCutMix`` need
mmpretrain, ``DigitsSegDataset`` needs mmseg. Those three are imported on first use, not with
the package: importing mmpretrain's models or mmseg's datasets costs seconds, and a detection run
needs neither. A config reaches them by a scoped type (``type='raftmlp_mm.INaturalist'``), which
makes MMEngine import ``hosted`` (the registries' ``locations``, raftmlp_mm/registry.py); Python
code reaches them as attributes of this package (``from raftmlp_mm.datasets import INaturalist``).
"""
import importlib
import importlib.util

from .digits import DIGIT_CLASSES, write_canvases, write_classification

# name: (module of this package, the host it needs)
HOSTED = {
    'INaturalist': ('inaturalist', 'mmpretrain'),
    'SequentialMixupCutMix': ('batch_augments', 'mmpretrain'),
    'DigitsSegDataset': ('digits_seg', 'mmseg'),
}
AVAILABLE = {name: module for name, (module, host) in HOSTED.items()
             if importlib.util.find_spec(host) is not None}

__all__ = ['DIGIT_CLASSES', 'write_canvases', 'write_classification', *AVAILABLE]


def __getattr__(name: str):
    """Import a host-built class on first access (PEP 562)."""
    if name in AVAILABLE:
        return getattr(importlib.import_module(f'.{AVAILABLE[name]}', __name__), name)
    if name in HOSTED:
        raise ImportError(f'raftmlp_mm.datasets.{name} needs {HOSTED[name][1]}: '
                          f'pip install {HOSTED[name][1]}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
