"""Training-loop pieces the tools add: the non-finite-loss stop, CPU bfloat16 autocast, exact
resume (seeded loops, atomic checkpoints) and the run record."""
from .checkpoint import SafeCheckpointHook
from .exact_resume import ExactResumeEpochBasedTrainLoop, ExactResumeIterBasedTrainLoop
from .hooks import RecordRunInfo, StopOnNonFiniteLoss
from .optim_wrappers import BFloat16AutocastOptimWrapper

__all__ = ['BFloat16AutocastOptimWrapper', 'ExactResumeEpochBasedTrainLoop',
           'ExactResumeIterBasedTrainLoop', 'RecordRunInfo', 'SafeCheckpointHook',
           'StopOnNonFiniteLoss']
