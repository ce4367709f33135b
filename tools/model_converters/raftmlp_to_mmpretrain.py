"""Convert a checkpoint of the original RaftMLP code to an mmpretrain checkpoint.

    python tools/model_converters/raftmlp_to_mmpretrain.py SRC DST [--arch small] [--force]

SRC is a plain state_dict or one nested under ``model`` / ``state_dict``. Without ``--arch`` the
published arch whose layout fits is detected. DST gets ``backbone.*`` / ``head.fc.*`` keys and
``meta``; load it in mmpretrain with ``load_from``, or into a detector / segmentor backbone with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import torch

from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.convert import CheckpointMismatchError, convert_to_mmpretrain


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='original RaftMLP checkpoint')
    parser.add_argument('dst', help='where to write the mmpretrain checkpoint')
    parser.add_argument('--arch', choices=sorted(RaftMLP.arch_zoo),
                        help='arch of SRC (default: detect it from the keys and shapes)')
    parser.add_argument('--img-size', type=int, default=224,
                        help='pretraining size of SRC (sets the token-MLP widths)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing DST')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.exists(args.dst) and not args.force:
        sys.exit(f'error: {args.dst} exists; pass --force to overwrite it')
    try:
        checkpoint = torch.load(args.src, map_location='cpu')
    except Exception as e:  # truncated or not a torch file
        sys.exit(f'error: cannot read {args.src} as a torch checkpoint ({e}); is the file '
                 'complete?')
    try:
        converted = convert_to_mmpretrain(checkpoint, arch=args.arch, img_size=args.img_size)
    except CheckpointMismatchError as e:
        sys.exit(f'error: {args.src}: {e}')
    # write next to DST and rename, so an interrupted run never leaves half a file behind
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst_dir, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(converted, tmp)
        os.replace(tmp, args.dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    meta = converted['meta']
    print(f'wrote {args.dst}: arch {meta["arch"]}, img_size {meta["img_size"]}, '
          f'{len(converted["state_dict"])} tensors, {meta["num_classes"]} classes')


if __name__ == '__main__':
    main()
