"""Registers the model parts built on a host, when that host is installed.

raftmlp_mm/registry.py names this module as a location of the MODELS registry, so MMEngine imports
it on the first lookup of a ``raftmlp_mm.`` model type; a detection-free environment never
imports mmdet for it.
"""
import importlib.util

if importlib.util.find_spec('mmdet') is not None:
    from . import mask_head  # noqa: F401  (raftmlp_mm.MatmulFCNMaskHead)
    from . import roi_extractor  # noqa: F401  (raftmlp_mm.SingleRoIExtractor)
