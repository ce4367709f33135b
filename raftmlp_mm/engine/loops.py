"""Train loops whose resumed runs continue exactly as the uninterrupted run would have.

MMEngine's loops leave three gaps that make a resumed run drift from an uninterrupted one:

* EpochBasedTrainLoop restarts a half-finished epoch from its first batch, so a checkpoint
  saved mid-epoch (``CheckpointHook(by_epoch=False)``) trains those batches twice;
* checkpoints hold no random state, so dropout / drop-path masks and random augmentations
  after a resume differ from the ones the uninterrupted run draws;
* data workers are seeded once per worker (``seed + worker_id``), so what a sample's
  augmentation draws depends on which worker loads it and on what that worker loaded before:
  persistent workers carry their state from epoch to epoch, restarted workers repeat theirs.

Instead of saving and restoring random states, these loops make every random draw a function
of the seed and the training position, which a checkpoint already records:

* before each sample is loaded (in the main process or in a worker) ``random``, ``numpy`` and
  ``torch`` are seeded from (seed, epoch, dataset index) in the epoch loop, or from (seed,
  rank, position in the sample stream) in the iteration loop;
* before each iteration runs (after its batch is loaded) they are seeded from
  (seed, iteration): the model's dropout and drop-path, batch augmentations such as Mixup;
* a mid-epoch resume skips the batches of that epoch trained before the checkpoint, in the
  batch sampler, without loading them (the sampler's order depends only on seed and epoch).

The epoch loop's per-sample seeds come from the run's base seed, without the rank offset that
``randomness.diff_rank_seed=True`` adds, so one process and several give each sample the same
augmentation; the per-iteration seeds keep the offset, so ranks draw different dropout masks.
Randomness outside these three generators (e.g. a transform with its own unseeded
``numpy.random.Generator``, OpenCV's RNG) is not covered.

The loops are also the first of the plugin's pieces the Runner builds (``Runner.train`` builds
the train loop before the data, the optimizer and ``load_or_resume``), so their ``__init__``
runs what must come before anything is loaded, under every launcher (``tools/train.py``,
``mim train``, the hosts' own tools, ``Runner.from_cfg``): the start-up checks
(``startup_checks.py``) and the choice of the checkpoint to resume from (``resume.py``).
"""
import itertools
import logging
import random
from typing import NamedTuple, Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.utils.data import DataLoader

from ..registry import LOOPS
from .resume import prepare_resume
from .startup_checks import check_before_training

_MASK64 = (1 << 64) - 1


def derive_seed(*keys: int) -> int:
    """A 32-bit seed mixed from integer keys (splitmix64 steps: cheap and well spread)."""
    state = 0x9E3779B97F4A7C15
    for key in keys:
        state = (state + (int(key) & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        state = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        state = ((state ^ (state >> 27)) * 0x94D049BB133111EB) & _MASK64
        state ^= state >> 31
    return state >> 32


def seed_all(seed: int):
    """Seed the three generators data pipelines and models draw from."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# tags keep the sample and iteration seed streams apart
_SAMPLE_BY_INDEX, _SAMPLE_BY_POSITION, _ITERATION = 0, 1, 2


def iteration_seed(seed: int, iteration: int) -> int:
    return derive_seed(seed, _ITERATION, iteration)


class SeededIndex(NamedTuple):
    """A dataset index with the seed its sample is loaded with (what SeededBatches yields)."""
    index: int
    seed: int


class SeededBatches:
    """Wraps a batch sampler: skips batches on a mid-epoch resume and seeds every sample.

    ``by_index``: the sample seed is (seed, epoch, dataset index), for epoch loops. Otherwise
    it is (seed, rank, position in the stream of batches, position in the batch), for
    iteration loops whose sampler streams on across passes.
    """

    def __init__(self, batch_sampler, by_index: bool):
        self.batch_sampler = batch_sampler
        self.by_index = by_index
        self.seed = 0
        self.epoch = 0
        self.skip = 0  # batches to drop from the start of the next pass
        self.produced = 0  # batches yielded so far (stream positions)
        self.rank = get_rank()

    @property
    def sampler(self):
        # DistSamplerSeedHook and mmengine's infinite iterator reach set_epoch through here
        return self.batch_sampler.sampler

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        skip, self.skip = self.skip, 0
        for batch in itertools.islice(self.batch_sampler, skip, None):
            if self.by_index:
                keys = [SeededIndex(i, derive_seed(self.seed, _SAMPLE_BY_INDEX, self.epoch, i))
                        for i in batch]
            else:
                keys = [SeededIndex(i, derive_seed(self.seed, _SAMPLE_BY_POSITION, self.rank,
                                                   self.produced, n))
                        for n, i in enumerate(batch)]
            self.produced += 1
            yield keys


class SeededSamples:
    """Stands in for a dataset: seeds the generators before loading a SeededIndex's sample.

    Everything else (attributes, assignments, ``isinstance``) reaches the wrapped dataset, so
    hooks that read ``runner.train_dataloader.dataset.metainfo`` or swap its pipeline work.
    """

    # torch's fetcher would call a dataset's batched __getitems__ instead of __getitem__
    __getitems__ = None

    def __init__(self, dataset):
        self.__dict__['_seeded_dataset'] = dataset

    @property
    def __class__(self):  # isinstance() checks see the wrapped dataset's type
        return type(self.__dict__['_seeded_dataset'])

    def __getattr__(self, name):
        try:
            dataset = self.__dict__['_seeded_dataset']
        except KeyError:  # while unpickling, before __init__ state exists
            raise AttributeError(name) from None
        return getattr(dataset, name)

    def __setattr__(self, name, value):
        setattr(self.__dict__['_seeded_dataset'], name, value)

    def __reduce__(self):  # workers started with 'spawn' receive a pickled copy
        return SeededSamples, (self.__dict__['_seeded_dataset'], )

    def __len__(self):
        return len(self.__dict__['_seeded_dataset'])

    def __getitem__(self, key):
        if isinstance(key, SeededIndex):
            seed_all(key.seed)
            key = key.index
        return self.__dict__['_seeded_dataset'][key]


def seed_samples(loader: DataLoader, by_index: bool) -> Optional[SeededBatches]:
    """Put SeededBatches and SeededSamples into a DataLoader no iterator has been made of."""
    if loader.batch_sampler is None or getattr(loader, '_iterator', None) is not None:
        print_log('exact resume: the train dataloader has no batch sampler or is already '
                  'iterating; samples are loaded unseeded and a mid-epoch resume loads and '
                  'drops the batches it skips', logger='current', level=logging.WARNING)
        return None
    batches = SeededBatches(loader.batch_sampler, by_index)
    # DataLoader refuses to reassign these after __init__ (an iterator would miss the change);
    # none exists yet, and each iterator reads both when it is created.
    object.__setattr__(loader, 'batch_sampler', batches)
    object.__setattr__(loader, 'dataset', SeededSamples(loader.dataset))
    return batches


def base_seed(runner) -> int:
    """The run's seed without the per-rank offset of ``diff_rank_seed`` (MMEngine adds the rank)."""
    if runner._randomness_cfg.get('diff_rank_seed', False):
        return runner.seed - get_rank()
    return runner.seed


def _prepare(runner, dataloader):
    """Checks, resume choice, then the loader: what both loops do before BaseLoop.__init__.

    Returns the built loader and the checkpoints the resume choice skipped. The resume choice
    comes before the loader because it may restore the checkpoint's seed, which the sampler
    takes when it is built.
    """
    check_before_training(runner, dataloader)
    skipped = prepare_resume(runner)
    if isinstance(dataloader, dict):  # what BaseLoop.__init__ does, done first to wrap it
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        dataloader = runner.build_dataloader(dataloader, seed=runner.seed,
                                             diff_rank_seed=diff_rank_seed)
    return dataloader, skipped


@LOOPS.register_module()
class ExactResumeEpochBasedTrainLoop(EpochBasedTrainLoop):
    """EpochBasedTrainLoop with seeded samples and iterations and mid-epoch resume.

    Same arguments as EpochBasedTrainLoop; every config of this package names it:
    ``train_cfg=dict(type='raftmlp_mm.ExactResumeEpochBasedTrainLoop', max_epochs=...)``.
    """

    def __init__(self, runner, dataloader, *args, **kwargs):
        dataloader, self.skipped_checkpoints = _prepare(runner, dataloader)
        self._batches = seed_samples(dataloader, by_index=True)
        super().__init__(runner, dataloader, *args, **kwargs)

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        length = len(self.dataloader)
        done = self._iter - self._epoch * length  # this epoch's batches trained before resuming
        if not 0 <= done <= length:
            raise RuntimeError(
                f'resumed at iteration {self._iter}, epoch {self._epoch}, but an epoch has '
                f'{length} batches now: the checkpoint comes from a run with another dataset '
                f'size, batch size or number of processes. Resume with the settings it was '
                f'trained with, or start a new run from its weights with load_from=CHECKPOINT '
                f'and without --resume.')
        if done:
            print_log(f'resuming mid-epoch: skipping the {done} batches of epoch '
                      f'{self._epoch + 1} trained before the checkpoint', logger='current')
        if self._batches is not None:
            self._batches.seed, self._batches.epoch, self._batches.skip = \
                base_seed(self.runner), self._epoch, done
            batches = iter(self.dataloader)
        else:  # no batch sampler to skip in: load and drop
            batches = itertools.islice(iter(self.dataloader), done, None)
        for idx, data_batch in enumerate(batches, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx, data_batch) -> None:
        seed_all(iteration_seed(self.runner.seed, self._iter))
        super().run_iter(idx, data_batch)


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(IterBasedTrainLoop):
    """IterBasedTrainLoop with seeded samples and iterations.

    On resume it advances the data stream like IterBasedTrainLoop (loading the batches it
    skips), so every later sample sits at the same stream position and gets the same seed.
    """

    def __init__(self, runner, dataloader, *args, **kwargs):
        dataloader, self.skipped_checkpoints = _prepare(runner, dataloader)
        self._batches = seed_samples(dataloader, by_index=False)
        if self._batches is not None:
            # the infinite iterator made in super().__init__ starts loading right away
            self._batches.seed = runner.seed
        super().__init__(runner, dataloader, *args, **kwargs)

    def run(self):
        if self._batches is not None and self._batches.seed != self.runner.seed:
            print_log(f'exact resume: samples are seeded with {self._batches.seed} but the '
                      f'run resumed with seed {self.runner.seed}; set randomness.seed (or '
                      f'--seed) to the checkpoint\'s seed to resume exactly',
                      logger='current', level=logging.WARNING)
        return super().run()

    def run_iter(self, data_batch) -> None:
        seed_all(iteration_seed(self.runner.seed, self._iter))
        super().run_iter(data_batch)
