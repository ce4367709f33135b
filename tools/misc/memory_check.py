"""Train a config for a few epochs and print the resident memory (RSS) of the trainer and its
data-loader workers after each epoch. A leak shows as growth from one epoch to the next;
the first epoch includes the one-off allocations (workers started, buffers, caches).

    python tools/misc/memory_check.py configs/classification/demo/raftmlp_s_digits.py \
        --epochs 3 [--work-dir DIR] [--cfg-options train_dataloader.prefetch_factor=4 ...]

Linux only (reads /proc). Writes the numbers to <work dir>/memory.json as well.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402

from raftmlp_mm.launch import build_runner, load_config  # noqa: E402

MIB = 1 << 20


def rss_bytes(pid: int) -> int:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def children(pid: int):
    """Direct and indirect child processes (the data-loader workers)."""
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    # the command name may contain spaces: ppid follows its closing ')'
                    parents[int(entry)] = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


class RecordMemory(Hook):
    """RSS after each epoch's training and, when it runs, its validation (all workers up)."""

    priority = 'LOWEST'

    def __init__(self):
        self.epochs = {}

    def _record(self, runner, epoch):
        main = rss_bytes(os.getpid())
        workers = []
        for pid in children(os.getpid()):
            try:
                workers.append(rss_bytes(pid))
            except OSError:
                pass
        self.epochs[epoch] = dict(trainer_mib=main / MIB, workers=len(workers),
                                  workers_mib=sum(workers) / MIB,
                                  total_mib=(main + sum(workers)) / MIB)

    def after_train_epoch(self, runner):
        self._record(runner, runner.epoch)  # runner.epoch is still 0-based here

    def after_val_epoch(self, runner, metrics=None):
        self._record(runner, runner.epoch - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, as for tools/train.py')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', 'memory_' + osp.splitext(osp.basename(args.config))[0])
    cfg.train_cfg.max_epochs = args.epochs
    runner = build_runner(cfg)
    hook = RecordMemory()
    runner.register_hook(hook)
    runner.train()

    epochs = [dict(epoch=e + 1, **hook.epochs[e]) for e in sorted(hook.epochs)]
    for row in epochs:
        print(f"epoch {row['epoch']}: trainer {row['trainer_mib']:.1f} MiB, "
              f"{row['workers']} workers {row['workers_mib']:.1f} MiB, "
              f"total {row['total_mib']:.1f} MiB")
    growth = epochs[-1]['total_mib'] - epochs[0]['total_mib']
    print(f'growth from epoch 1 to epoch {epochs[-1]["epoch"]}: {growth:+.1f} MiB')
    with open(osp.join(cfg.work_dir, 'memory.json'), 'w') as f:
        json.dump(dict(epochs=epochs, growth_mib=growth), f, indent=2)


if __name__ == '__main__':
    main()
