"""Draw a detector's predictions on held-out images beside the ground truth (mmdet's
DetLocalVisualizer): boxes, masks, labels and scores, one row per image pair.

    python tools/misc/visualize_detection.py CONFIG CHECKPOINT --out predictions.png
        [--num 8] [--columns 2] [--score-thr 0.5] [--scale 3]

The images are the first NUM of the config's test split. `make demo` writes
work_dirs/demo_maskrcnn_digits/predictions.png with it.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    from raftmlp_mm.visualization import detection_grid, picture_tool_parser
    parser = picture_tool_parser(__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='the picture to write (.png)')
    parser.add_argument('--num', type=int, default=8, help='held-out images to draw')
    parser.add_argument('--columns', type=int, default=2, help='image pairs per row')
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='draw predictions scoring at least this')
    parser.add_argument('--scale', type=int, default=3, help='enlarge the images by this')
    args = parser.parse_args(argv)
    result = detection_grid(args.config, args.checkpoint, args.out, num=args.num,
                            columns=args.columns, score_thr=args.score_thr, scale=args.scale,
                            device=args.device, cfg_options=args.cfg_options)
    height, width = result['shape'][:2]
    print(f'predictions on {len(result["items"])} held-out images ({width}x{height}): '
          f'{result["path"]}')
    return result


if __name__ == '__main__':
    main()
