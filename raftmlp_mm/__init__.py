"""RaftMLP (Tatsunami & Taki, arXiv 2108.04384) as an OpenMMLab backbone.

Importing the package registers what configs name with the ``raftmlp_mm.`` scope: the backbone
(``models``) and the training engine (``engine``: seeded loops, atomic checkpoints, hooks), so
``custom_imports=dict(imports=['raftmlp_mm'])`` is all a config needs. The datasets and batch
augments built on a host (``datasets``) register on their first lookup, so that importing the
package never imports a host's models or datasets that the run does not use.
"""
import importlib.util

from . import datasets  # noqa: F401  (host-built datasets register on first lookup)
from . import engine  # noqa: F401  (registers the loops, hooks and the CPU bf16 AMP wrapper)
from .models import RaftMLP  # noqa: F401  (registers the backbone)
from .version import __version__  # noqa: F401

if importlib.util.find_spec('mmpretrain') is not None:  # list_models('raftmlp*'), get_model
    from . import model_index  # noqa: F401
