"""The main job of `make demo`: Mask R-CNN with a RaftMLP-S backbone, trained and evaluated on the
built-in digits canvases, end to end on this machine.

    python tools/demo.py [--gpus 1] [--work-dir work_dirs/demo_maskrcnn_digits] [--retrain]

1. writes the datasets under data/ if they are missing (tools/misc/make_digits.py);
2. trains with `bash detection.sh <demo config> GPUS` (skipped when the work dir already holds
   the final checkpoint: nothing is overwritten unless --retrain);
3. evaluates the final checkpoint with tools/test.py (COCO bbox and segm mAP, held-out split);
4. plots the learning curve;
5. draws the predictions on 8 held-out canvases beside their ground truth (predictions.png,
   tools/misc/visualize_detection.py) and prints where the checkpoint, logs and pictures are.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

CONFIG = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'


def run(cmd, env):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, env=env, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--gpus', type=int, default=1, help='processes for detection.sh')
    parser.add_argument('--work-dir', default='work_dirs/demo_maskrcnn_digits')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even if the work dir holds a finished run '
                        '(its checkpoints are overwritten)')
    args = parser.parse_args(argv)

    from mmengine.config import Config

    from raftmlp_mm.datasets import write_canvases

    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    write_canvases(osp.join(REPO, cfg.data_root))
    final = osp.join(args.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')

    start = time.time()
    if osp.isfile(osp.join(REPO, final)) and not args.retrain:
        print(f'{final} exists: evaluating it (pass --retrain to train again)')
    else:
        run(['bash', 'detection.sh', CONFIG, str(args.gpus), '--work-dir', args.work_dir], env)
    train_minutes = (time.time() - start) / 60
    run([sys.executable, 'tools/test.py', CONFIG, final, '--work-dir',
         osp.join(args.work_dir, 'test')], env)
    curve = osp.join(args.work_dir, 'learning_curve.png')
    run([sys.executable, 'tools/analysis_tools/plot_curve.py', args.work_dir, '--out', curve], env)
    predictions = osp.join(args.work_dir, 'predictions.png')
    run([sys.executable, 'tools/misc/visualize_detection.py', CONFIG, final, '--out',
         predictions], env)
    print(f'\nDemo done in {train_minutes:.1f} min of training.\n'
          f'  checkpoint:  {final}\n'
          f'  logs:        {args.work_dir}/<timestamp>/ (and {args.work_dir}/test/)\n'
          f'  curve:       {curve}\n'
          f'  predictions: {predictions} (held-out canvases: ground truth | prediction)\n'
          'The bbox and segm mAP printed by tools/test.py above are on the held-out split.\n'
          f'Your own images: python tools/infer.py IMAGE_OR_DIR {CONFIG} {final} --out DIR')


if __name__ == '__main__':
    main()
