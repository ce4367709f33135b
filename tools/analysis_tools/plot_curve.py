"""Plot training loss and validation metrics from an MMEngine work dir.

    python tools/analysis_tools/plot_curve.py WORK_DIR [--out curve.png] [--metric coco/bbox_mAP]

Reads the newest ``<timestamp>/vis_data/scalars.json`` under WORK_DIR.
"""
import argparse
import glob
import json
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def read_scalars(work_dir: str):
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: is it a work dir '
                                'of a finished or running training?')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def draw(records, title: str, metric: str = None):
    """The figure: train loss per iteration (left), a validation metric per step (right)."""
    train = [r for r in records if 'loss' in r]
    val = [r for r in records if 'loss' not in r and 'step' in r]
    if metric is None:
        names = [k for r in val for k in r if k.endswith('mAP') or k.endswith(('top1', 'mIoU'))]
        metric = names[0] if names else None
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot([r['iter'] for r in train], [r['loss'] for r in train], color='tab:blue')
    loss_ax.set_xlabel('iteration')
    loss_ax.set_ylabel('train loss')
    if metric:
        points = [(r['step'], r[metric]) for r in val if metric in r]
        metric_ax.plot([p[0] for p in points], [p[1] for p in points], 'o-', color='tab:red')
        metric_ax.set_xlim(left=0)  # a run that validates once, at the end, is one point
        metric_ax.set_xlabel('epoch (or iteration for iteration-based schedules)')
        metric_ax.set_ylabel(f'val {metric}')
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot(work_dir: str, out: str, metric: str = None) -> str:
    fig = draw(read_scalars(work_dir), osp.basename(osp.normpath(work_dir)), metric)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='PNG to write (default: WORK_DIR/learning_curve.png)')
    parser.add_argument('--metric', help='validation metric to plot (default: the first mAP, '
                        'top1 or mIoU found)')
    args = parser.parse_args(argv)
    print(plot(args.work_dir, args.out or osp.join(args.work_dir, 'learning_curve.png'),
               args.metric))


if __name__ == '__main__':
    main()
