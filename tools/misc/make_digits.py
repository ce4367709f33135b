"""Write the built-in demo datasets (from scikit-learn's digits) under data/.

    python tools/misc/make_digits.py [--root data]

data/digits_cls: mmpretrain CustomDataset folders; data/digits_canvas: COCO instances and
ADE20K-style label maps of the same canvases. Existing complete datasets are left untouched.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from raftmlp_mm.datasets import write_canvases, write_classification  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='data', help='parent folder of the datasets')
    args = parser.parse_args(argv)
    print('classification:', write_classification(osp.join(args.root, 'digits_cls')))
    print('canvases:', write_canvases(osp.join(args.root, 'digits_canvas')))


if __name__ == '__main__':
    main()
