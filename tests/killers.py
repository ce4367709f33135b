"""Hooks that SIGKILL the training process, for the resume tests (imported by the trainer
subprocess through a config's ``type='tests.killers.<Hook>'``)."""
import os
import os.path as osp
import signal

from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterIteration(Hook):
    """Kill right after iteration ``iteration`` (1-based), once any checkpoint of it is saved."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def __init__(self, iteration: int):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.iteration:
            _die()


class KillWhileWritingCheckpoint(Hook):
    """Kill halfway through writing the checkpoint file whose name contains ``name``: half of
    its bytes reach the disk, as when a job is preempted during the write."""

    def __init__(self, name: str):
        self.name = name

    def before_train(self, runner):
        put, name = LocalBackend.put, self.name

        def half_then_die(backend, obj, filepath):
            if name in osp.basename(str(filepath)):
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                _die()
            return put(backend, obj, filepath)

        LocalBackend.put = half_then_die
