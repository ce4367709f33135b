"""Classify a config's whole held-out split and draw the confusion matrix and the
misclassified images.

    python tools/misc/visualize_classification.py CONFIG CHECKPOINT --out-dir DIR
        [--max-shown 32] [--columns 8] [--batch-size 64]

Writes DIR/confusion_matrix.png (mmpretrain's ConfusionMatrix, counts in the cells) and
DIR/misclassified.png (true -> predicted label and score). `make demo-cls` writes them to
work_dirs/raftmlp_s_digits/.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    from raftmlp_mm.visualization import classification_report, picture_tool_parser
    parser = picture_tool_parser(__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--max-shown', type=int, default=32,
                        help='misclassified images to draw at most')
    parser.add_argument('--columns', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args(argv)
    result = classification_report(args.config, args.checkpoint, args.out_dir,
                                   max_shown=args.max_shown, columns=args.columns,
                                   batch_size=args.batch_size, device=args.device,
                                   cfg_options=args.cfg_options)
    print(f'top-1 {100 * result["accuracy"]:.2f}% on {result["num_images"]} held-out images, '
          f'{result["num_wrong"]} wrong\n'
          f'  confusion matrix: {result["confusion_matrix"]}\n'
          f'  misclassified:    {result["misclassified"]}')
    return result


if __name__ == '__main__':
    main()
