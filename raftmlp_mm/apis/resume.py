"""What tools/train.py adds so that a killed run resumes to the same result.

* ``use_exact_resume``: MMEngine's train loops become raftmlp_mm's seeded ones
  (raftmlp_mm.engine.exact_resume), CheckpointHook becomes SafeCheckpointHook (atomic
  writes), and RecordRunInfo writes the seed and settings of each run into its log dir.
* ``resolve_resume``: ``--resume`` without a path takes the newest checkpoint that loads,
  reporting every newer one that does not (truncated, corrupted) by path and reason; a
  given path must load. The seed the checkpoint was trained with is kept, so the data order
  and the random draws continue where they stopped.
"""
import os
import os.path as osp
import re
import sys
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config

from ..engine.checkpoint import checksum_problem

CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
LOOP_REPLACEMENTS = {
    'EpochBasedTrainLoop': 'raftmlp_mm.ExactResumeEpochBasedTrainLoop',
    'IterBasedTrainLoop': 'raftmlp_mm.ExactResumeIterBasedTrainLoop',
}


def _short_type(node: dict) -> str:
    kind = node.get('type', '')
    return kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', '')


def _is_main_rank() -> bool:
    return int(os.environ.get('RANK', '0')) == 0


def _warn(message: str):
    if _is_main_rank():  # every rank resolves the same files; one report is enough
        print(f'WARNING: {message}', file=sys.stderr, flush=True)


def use_exact_resume(cfg: Config, skipped_checkpoints=()):
    """Seeded train loop, atomic checkpoints and the run record, for a config as written."""
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict):
        if 'type' in train_cfg:
            kind = train_cfg['type']
            name = kind.__name__ if isinstance(kind, type) else str(kind)
            name = name[len('mmengine.'):] if name.startswith('mmengine.') else name
            if name in LOOP_REPLACEMENTS:
                train_cfg['type'] = LOOP_REPLACEMENTS[name]
            elif not name.split('.')[-1].startswith('ExactResume'):
                _warn(f'train_cfg.type={name!r} is not one of MMEngine\'s train loops; it is '
                      f'kept, so a resumed run may not repeat the uninterrupted one exactly')
        elif 'by_epoch' in train_cfg:
            by_epoch = train_cfg.pop('by_epoch')
            train_cfg['type'] = LOOP_REPLACEMENTS['EpochBasedTrainLoop' if by_epoch
                                                  else 'IterBasedTrainLoop']

    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and _short_type(checkpoint) == 'CheckpointHook':
        checkpoint['type'] = 'raftmlp_mm.SafeCheckpointHook'

    hooks = [h for h in (cfg.get('custom_hooks') or []) if _short_type(h) != 'RecordRunInfo']
    hooks.append(dict(type='raftmlp_mm.RecordRunInfo',
                      skipped_checkpoints=[list(item) for item in skipped_checkpoints]))
    cfg.custom_hooks = hooks


def checkpoint_problem(path: str) -> Tuple[Optional[str], Optional[dict]]:
    """(None, meta) when ``path`` loads as a training checkpoint, else (the reason, None)."""
    problem = checksum_problem(path)
    if problem is not None:
        return problem, None
    try:
        checkpoint = torch.load(path, map_location='cpu')
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


def resolve_resume(cfg: Config, resume: Optional[str]) -> list:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``--resume [PATH]``; returns the skipped
    checkpoints as (path, problem) pairs."""
    if resume is None:
        return []
    skipped = []
    if resume == 'auto':
        path, meta, skipped = find_resume_checkpoint(cfg.work_dir)
        if path is None:
            # a fresh start, as without --resume (a config's load_from still applies)
            _warn(f'--resume: no checkpoint in {cfg.work_dir} yet; starting a new run')
            cfg.resume = False
            return skipped
    else:
        path = resume
        if not osp.isfile(path):
            raise FileNotFoundError(f'--resume {path}: no such file. Fix: give an existing '
                                    f'checkpoint, or --resume alone for the latest one in '
                                    f'the work dir.')
        problem, meta = checkpoint_problem(path)
        if problem is not None:
            raise RuntimeError(f'--resume {path}: {problem}. It is probably truncated or '
                               f'corrupted. Fix: --resume alone takes the newest checkpoint '
                               f'of the work dir that loads, or give another one.')
    cfg.resume, cfg.load_from = True, path

    # The sampler is built with the seed before the Runner resumes and would shuffle with
    # the config's seed (or a fresh random one), not the checkpoint's.
    seed = meta.get('seed')
    randomness = dict(cfg.get('randomness') or {})
    if seed is not None and randomness.get('seed') != seed:
        if randomness.get('seed') is not None:
            _warn(f'{path} was trained with seed {seed}, the config says '
                  f'{randomness["seed"]}; resuming with {seed} so the run continues as it was')
        randomness['seed'] = seed
        cfg.randomness = randomness
    return skipped
