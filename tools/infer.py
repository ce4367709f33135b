"""Run any config of this package on your own images and write the visualized results.

    python tools/infer.py IMAGE_OR_DIR CONFIG CHECKPOINT --out DIR [--score-thr 0.3]
        [--device cpu] [--batch-size 1] [--cfg-options KEY=VALUE ...]

The host comes from the config's ``default_scope``: mmdet configs run through mmdet's
``DetInferencer``, mmseg configs through ``MMSegInferencer``, mmpretrain configs through
``ImageClassificationInferencer``; the class names come from the checkpoint. IMAGE_OR_DIR is one
image or a folder of images (not searched recursively). Writes

    DIR/vis/<image>          the image with the predictions drawn on it
    DIR/preds/               detection: <image>.json (boxes, labels, scores, masks as RLE);
                             segmentation: <image>_pred.png label maps (class indices);
                             classification: preds.json

and prints one line per image.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image or a folder of images')
    parser.add_argument('config', help='a config of this package (or any mmdet / mmseg / '
                        'mmpretrain config)')
    parser.add_argument('checkpoint', help='a checkpoint trained with the config')
    parser.add_argument('--out', required=True, help='folder for the results')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw and list boxes scoring at least this')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as for tools/train.py')
    return parser.parse_args(argv)


def describe(summary: dict) -> str:
    if summary['host'] == 'mmdet':
        found = ', '.join(f'{label} {score:.2f}' for label, score in summary['objects'])
        return f'{len(summary["objects"])} objects' + (f': {found}' if found else '')
    if summary['host'] == 'mmseg':
        shares = sorted(summary['classes'], key=lambda c: -c[1])
        return 'classes by area: ' + ', '.join(f'{name} {100 * s:.1f}%' for name, s in shares)
    return f'{summary["pred_class"]} ({summary["pred_score"]:.2f})'


def main(argv=None):
    args = parse_args(argv)
    from raftmlp_mm.visualization import infer, list_images
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'error: {path} does not exist')
    try:
        images = list_images(args.inputs)
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    summaries = infer(images, args.config, args.checkpoint, args.out, device=args.device,
                      score_thr=args.score_thr, batch_size=args.batch_size,
                      cfg_options=args.cfg_options)
    for summary in summaries:
        print(f'{summary["image"]}: {describe(summary)}')
    print(f'\n{len(summaries)} images ({summaries[0]["host"]}); pictures in '
          f'{osp.join(args.out, "vis")}, predictions in {osp.join(args.out, "preds")}')
    return summaries


if __name__ == '__main__':
    main()
