"""Overlay a segmentor's predictions and the ground truth on held-out images (mmseg's
SegLocalVisualizer) and report their mIoU.

    python tools/misc/visualize_segmentation.py CONFIG CHECKPOINT --out-dir DIR
        [--num 8] [--columns 2] [--scale 3]

Writes DIR/<image>.png (ground truth | prediction) for the first NUM images of the config's test
split and DIR/overlays.png with all of them. `make demo-seg` writes work_dirs/demo_seg/overlays/.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    from raftmlp_mm.visualization import picture_tool_parser, segmentation_overlays
    parser = picture_tool_parser(__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--num', type=int, default=8, help='held-out images to draw')
    parser.add_argument('--columns', type=int, default=2, help='image pairs per row')
    parser.add_argument('--scale', type=int, default=3, help='enlarge the images by this')
    args = parser.parse_args(argv)
    result = segmentation_overlays(args.config, args.checkpoint, args.out_dir, num=args.num,
                                   columns=args.columns, scale=args.scale, device=args.device,
                                   cfg_options=args.cfg_options)
    print(f'overlays of {len(result["files"])} held-out images (mIoU {result["mIoU"]:.1f} on '
          f'them): {result["path"]}')
    return result


if __name__ == '__main__':
    main()
