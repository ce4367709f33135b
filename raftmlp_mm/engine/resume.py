"""Which checkpoint a resumed run starts from, chosen the same way under every launcher.

``--resume`` without a path (``resume=True``, ``load_from=None``) takes the newest checkpoint
that loads, reporting every newer one that does not (truncated, corrupted, or not matching its
sha256) by path and reason; a given path must load. The seed the checkpoint was trained with
is kept. The seeded train loops (``loops.py``) call ``prepare_resume`` while they are built.
"""
import os
import os.path as osp
import re
import sys
from typing import List, Optional, Tuple

import torch

from .checkpoint import checksum_problem

CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def _is_main_rank() -> bool:
    return int(os.environ.get('RANK', '0')) == 0


def _warn(message: str):
    if _is_main_rank():  # every rank resolves the same files; one report is enough
        print(f'WARNING: {message}', file=sys.stderr, flush=True)


def _load_lazily(path: str):
    """torch.load with the tensors memory-mapped: the archive's index and pickle are read and
    checked, the tensor bytes are not copied (the Runner reads them once, when it resumes)."""
    try:
        return torch.load(path, map_location='cpu', mmap=True)
    except RuntimeError as error:
        if 'mmap can only be used' in str(error):  # the legacy (non-zip) format
            return torch.load(path, map_location='cpu')
        raise


def checkpoint_problem(path: str) -> Tuple[Optional[str], Optional[dict]]:
    """(None, meta) when ``path`` loads as a training checkpoint, else (the reason, None)."""
    problem = checksum_problem(path)
    if problem is not None:
        return problem, None
    try:
        checkpoint = _load_lazily(path)
    except Exception as error:  # truncated zip, bad pickle, I/O error: all mean unusable
        reason = f'{type(error).__name__}: {error}'.strip()
        return f'it does not load ({reason})', None
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or 'state_dict' not in checkpoint or not \
            {'epoch', 'iter'} <= set(meta):
        return ('it loads but is not a training checkpoint (no state_dict, or no meta with '
                'epoch and iter)'), None
    return None, meta


def _candidates(work_dir: str) -> List[str]:
    """Checkpoints to try, newest first: the one ``last_checkpoint`` names, then epoch_N.pth /
    iter_N.pth by number (by modification time when both kinds are present)."""
    latest = None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            latest = f.read().strip() or None
        if latest and not osp.isfile(latest):
            # a moved or copied work dir still names the old location
            local = osp.join(work_dir, osp.basename(latest))
            latest = local if osp.isfile(local) else None
    folders = {osp.abspath(work_dir)}
    if latest:
        folders.add(osp.dirname(osp.abspath(latest)))
    found = []
    for folder in folders:
        for name in os.listdir(folder):
            match = CHECKPOINT_NAME.match(name)
            if match and osp.isfile(osp.join(folder, name)):
                found.append((match.group(1), int(match.group(2)), osp.join(folder, name)))
    if len({kind for kind, _, _ in found}) > 1:
        found.sort(key=lambda item: (osp.getmtime(item[2]), item[1]), reverse=True)
    else:
        found.sort(key=lambda item: item[1], reverse=True)
    paths = [path for _, _, path in found]
    if latest:
        paths = [latest] + [p for p in paths if osp.abspath(p) != osp.abspath(latest)]
    return paths


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], Optional[dict], list]:
    """The newest checkpoint in ``work_dir`` that loads, its meta, and the skipped ones.

    Returns (None, None, []) when there is no checkpoint. Raises when there are checkpoints
    but none loads, rather than silently starting over.
    """
    skipped = []
    if not osp.isdir(work_dir):
        return None, None, skipped
    for path in _candidates(work_dir):
        problem, meta = checkpoint_problem(path)
        if problem is None:
            return path, meta, skipped
        _warn(f'cannot resume from {path}: {problem}. It is probably truncated or corrupted '
              f'(a run killed while writing it, a full disk); trying the previous checkpoint. '
              f'The file is left as it is; training replaces it when it saves that step again.')
        skipped.append((path, problem))
    if skipped:
        listed = '\n'.join(f'  {path}: {problem}' for path, problem in skipped)
        raise RuntimeError(
            f'--resume: no checkpoint in {work_dir} can be loaded:\n{listed}\n'
            f'Fix: resume from a good copy with --resume PATH, or move these files away and '
            f'train from scratch (without --resume or with another --work-dir).')
    return None, None, skipped


def prepare_resume(runner) -> List[Tuple[str, str]]:
    """Choose the checkpoint a resuming Runner loads, and restore its seed first.

    Called by the seeded train loops while the Runner builds them, which is after the Runner
    read ``resume`` / ``load_from`` and before it builds the data or calls ``load_or_resume``.
    MMEngine offers no public entry between the two, so the choice is written into the
    Runner's ``_load_from`` / ``_resume``, the attributes ``load_or_resume`` reads.

    * ``resume=True`` without ``load_from``: the newest checkpoint of the work dir that loads;
      newer ones that do not (truncated, corrupted) are reported by path and reason and
      returned as (path, problem) pairs. No checkpoint at all: a fresh start.
    * ``resume=True`` with ``load_from=PATH``: PATH must exist and load.

    The sampler is built with the Runner's seed; a checkpoint trained with another seed (a
    config with ``seed=None`` draws one) sets the seed before that, so the data order and the
    random draws continue where they stopped.
    """
    if not runner._resume:
        return []
    skipped = []
    path = runner._load_from
    if path is None:
        path, meta, skipped = find_resume_checkpoint(runner.work_dir)
        if path is None:
            _warn(f'resume: no checkpoint in {runner.work_dir} yet; starting a new run')
            runner._resume = False
            return skipped
        runner._load_from = path
    elif '://' in str(path):  # a remote checkpoint: MMEngine's loader reports its own errors
        return skipped
    else:
        if not osp.isfile(path):
            raise FileNotFoundError(f'resume from {path}: no such file. Fix: give an existing '
                                    f'checkpoint, or --resume alone for the latest one in '
                                    f'the work dir.')
        problem, meta = checkpoint_problem(path)
        if problem is not None:
            raise RuntimeError(f'resume from {path}: {problem}. It is probably truncated or '
                               f'corrupted. Fix: --resume alone takes the newest checkpoint '
                               f'of the work dir that loads, or give another one.')
    seed = meta.get('seed')
    randomness = runner._randomness_cfg
    if seed is not None and seed != runner.seed:
        if randomness.get('seed') is not None:
            _warn(f'{path} was trained with seed {seed}, the config says '
                  f'{randomness["seed"]}; resuming with {seed} so the run continues as it was')
        # the checkpoint records the rank-0 seed, which is the base seed (MMEngine adds the
        # rank to it on each process under diff_rank_seed)
        randomness['seed'] = seed
        runner.set_randomness(**randomness)
    return skipped
