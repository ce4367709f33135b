"""Do the tests catch what they claim to? Plant known faults, one at a time, and see.

    python tools/misc/mutation_check.py [--faults NAME ...] [--list] [--markdown]
    make mutation-check

Each fault is one textual edit of one file (e.g. bicubic resampling made bilinear), applied to a
temporary copy of the checkout (the files git tracks, plus the untracked ones it does not
ignore; the real checkout is never edited). The tests that should notice run there with the
default suite's marker (``-m "not slow"``); a fault counts as caught when at least one of them
fails. Before any fault, the same tests run on the unchanged copy and must pass, so a caught
fault is the fault's doing. An edit whose text is not found exactly once stops the check: the
code moved and the fault must be updated, rather than silently planting nothing.
"""
import argparse
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, NamedTuple, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class Fault(NamedTuple):
    name: str
    what: str
    path: str  # relative to the repo root
    old: str
    new: str
    tests: Tuple[str, ...]  # pytest node ids or files, relative to the repo root


FAULTS = [
    Fault('bilinear-resampling', 'bicubic resampling made bilinear',
          'raftmlp_mm/models/resample.py', "mode='bicubic'", "mode='bilinear'",
          ('tests/test_fidelity.py', )),
    Fault('raft-residual-dropped', "the vertical raft MLP's residual dropped",
          'raftmlp_mm/models/raftmlp.py',
          'x = (x.reshape(B, H, W, r, o) + self.drop_path(y)).view(B, H, W, C)',
          'x = (0 * x.reshape(B, H, W, r, o) + self.drop_path(y)).view(B, H, W, C)',
          ('tests/test_fidelity.py', )),
    Fault('raft-channels-transposed', 'the raft channel order transposed (raft-major)',
          'raftmlp_mm/models/raftmlp.py',
          'y = self.norm_vertical(x).view(B, H, W, r, o)',
          'y = self.norm_vertical(x).view(B, H, W, o, r).transpose(3, 4)',
          ('tests/test_fidelity.py', )),
    Fault('converter-layernorm-unpermuted', "the converter's raft LayerNorm permutation skipped",
          'raftmlp_mm/models/convert.py',
          'return value.reshape(-1, raft_size).t().reshape(-1).contiguous()',
          'return value.contiguous()',
          ('tests/test_fidelity.py', 'tests/test_converter.py')),
    Fault('direct-checkpoint-write', 'the atomic checkpoint write replaced by a direct write',
          'raftmlp_mm/engine/checkpoint.py',
          'temporary = temporary_name(self.last_ckpt)', 'temporary = self.last_ckpt',
          ('tests/test_resume.py::test_run_killed_while_writing_a_checkpoint_resumes_from_the_'
           'previous_one', )),
    Fault('no-mid-epoch-skip', 'the mid-epoch skip of exact resume disabled',
          'raftmlp_mm/engine/loops.py',
          'done = self._iter - self._epoch * length', 'done = 0',
          ('tests/test_resume.py::test_run_killed_mid_epoch_resumes_to_the_same_weights_and_'
           'logs', )),
    Fault('no-neck-channel-check', 'the neck in_channels check disabled',
          'raftmlp_mm/engine/startup_checks.py',
          'if expected != list(got):', 'if False:',
          ('tests/test_reliability.py::test_fpn_in_channels_that_do_not_match_the_backbone_'
           'name_both_lists', )),
    Fault('no-nan-stop', 'the non-finite-loss stop disabled',
          'raftmlp_mm/engine/hooks.py', 'if not bad:', 'if True:',
          ('tests/test_reliability.py::test_nonfinite_loss_stops_and_keeps_the_last_good_'
           'checkpoint', )),
    Fault('pyramid-strides-swapped', "the pyramid adapter's strides swapped (4 <-> 32)",
          'raftmlp_mm/models/raftmlp.py',
          'layers = (self.up4, self.up2, self.identity, self.down2)',
          'layers = (self.down2, self.up2, self.identity, self.up4)',
          ('tests/test_backbone.py', )),
]


def tracked_files(root: str) -> List[str]:
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return [p for p in out.split('\0') if p and osp.isfile(osp.join(root, p))]


def copy_checkout(target: str):
    """The checkout's files into ``target``; the demo data is shared (read-only use)."""
    for rel in tracked_files(REPO_ROOT):
        os.makedirs(osp.dirname(osp.join(target, rel)) or target, exist_ok=True)
        shutil.copy2(osp.join(REPO_ROOT, rel), osp.join(target, rel))
    data = osp.join(REPO_ROOT, 'data')
    if osp.isdir(data):
        os.symlink(data, osp.join(target, 'data'))


def plant(root: str, fault: Fault) -> str:
    """Apply the fault's edit in ``root``; returns the original text to restore."""
    path = osp.join(root, fault.path)
    with open(path) as f:
        text = f.read()
    count = text.count(fault.old)
    if count != 1:
        raise SystemExit(f'fault {fault.name}: {fault.old!r} occurs {count} times in '
                         f'{fault.path} (expected once): update the fault in {__file__}')
    with open(path, 'w') as f:
        f.write(text.replace(fault.old, fault.new))
    return text


def run_tests(root: str, tests) -> Tuple[int, List[str], float]:
    """(pytest's exit code, the failed tests, seconds) for ``tests`` in the copy at ``root``."""
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.pop('PYTEST_ADDOPTS', None)
    start = time.time()
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-m', 'not slow', '-p',
                             'no:cacheprovider', '-o', 'addopts=', *tests], cwd=root, env=env,
                            capture_output=True, text=True)
    failed = sorted(set(re.findall(r'^(?:FAILED|ERROR) (\S+)', result.stdout, re.M)))
    return result.returncode, failed, time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--faults', nargs='+', metavar='NAME',
                        help='only these faults (default: all)')
    parser.add_argument('--list', action='store_true', help='list the faults and exit')
    args = parser.parse_args(argv)
    faults = FAULTS
    if args.faults:
        unknown = set(args.faults) - {f.name for f in FAULTS}
        if unknown:
            parser.error(f'unknown faults {sorted(unknown)}; known: {[f.name for f in FAULTS]}')
        faults = [f for f in FAULTS if f.name in args.faults]
    if args.list:
        for fault in faults:
            print(f'{fault.name:32} {fault.what}  [{fault.path}]')
        return 0

    # the copy must be what gets imported: raftmlp_mm from it, not the editable install
    with tempfile.TemporaryDirectory(prefix='raftmlp_mutation_') as root:
        copy_checkout(root)
        tests = sorted({t for fault in faults for t in fault.tests})
        code, failed, seconds = run_tests(root, tests)
        if code != 0:
            print(f'the unchanged copy fails its tests ({failed or "exit code " + str(code)}): '
                  'fix them before checking faults', file=sys.stderr)
            return 2
        print(f'unchanged: {len(tests)} test selections pass ({seconds:.0f} s)')
        rows, missed = [], []
        for fault in faults:
            original = plant(root, fault)
            try:
                code, failed, seconds = run_tests(root, fault.tests)
            finally:
                with open(osp.join(root, fault.path), 'w') as f:
                    f.write(original)
            caught = code == 1 and bool(failed)  # 1: tests ran and some failed
            if not caught:
                missed.append(fault.name)
            shown = ', '.join(name.split('::')[-1] for name in failed[:3]) + \
                (f' (+{len(failed) - 3} more)' if len(failed) > 3 else '')
            rows.append((fault.what, 'caught' if caught else f'MISSED (exit {code})',
                         shown or '-', f'{seconds:.0f} s'))
            print(f'{fault.name}: {rows[-1][1]} by {rows[-1][2]}', flush=True)

    print('\n| fault | result | failing tests | time |\n|---|---|---|---|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    if missed:
        print(f'\n{len(missed)} fault(s) not caught: {missed}', file=sys.stderr)
        return 1
    print(f'\nall {len(rows)} faults caught')
    return 0


if __name__ == '__main__':
    sys.exit(main())
