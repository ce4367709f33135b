"""The training engine every config of this package names, one module per concern.

- ``loops.py``: seeded train loops (exact resume, mid-epoch skip); they run the start-up
  checks and the resume choice before the Runner loads anything.
- ``startup_checks.py``: what must hold before training loads anything.
- ``resume.py``: which checkpoint a resumed run starts from.
- ``checkpoint.py``: atomic checkpoint writes and their checksums (``SafeCheckpointHook``).
- ``hooks.py``: the non-finite-loss stop and the run record.
- ``optim_wrappers.py``: bfloat16 autocast for ``--amp`` on CPU.
"""
from .checkpoint import SafeCheckpointHook
from .hooks import RecordRunInfo, StopOnNonFiniteLoss
from .loops import ExactResumeEpochBasedTrainLoop, ExactResumeIterBasedTrainLoop
from .optim_wrappers import BFloat16AutocastOptimWrapper

__all__ = ['BFloat16AutocastOptimWrapper', 'ExactResumeEpochBasedTrainLoop',
           'ExactResumeIterBasedTrainLoop', 'RecordRunInfo', 'SafeCheckpointHook',
           'StopOnNonFiniteLoss']
