"""Parameters and MACs of every RaftMLP arch (the README's arch table), at any input size.

    python tools/analysis_tools/get_flops.py [--input-size 224 224] [--arch small ...]

Parameters include a 1000-class head; MACs count every linear layer and patch embedding (the
paper's convention: LayerNorm, GELU, pooling and bicubic resampling are not counted).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from raftmlp_mm.models import RaftMLP  # noqa: E402
from raftmlp_mm.utils import count_linear_macs, count_parameters  # noqa: E402

ARCHS = ['small', 'medium', 'large', 'hierarchy-medium', 'org-mixer', 'raft-r1', 'raft-r2',
         'raft-r4']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--input-size', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'))
    parser.add_argument('--arch', nargs='+', default=ARCHS, choices=sorted(RaftMLP.arch_zoo))
    parser.add_argument('--num-classes', type=int, default=1000)
    args = parser.parse_args(argv)
    h, w = args.input_size
    print(f'{"arch":<18}{"params":>14}{f"MACs@{h}x{w}":>14}  {"strides":<14}channels')
    for arch in args.arch:
        levels = len(RaftMLP.arch_zoo[arch]['depths'])
        model = RaftMLP(arch=arch, out_indices=tuple(range(levels)))
        head = args.num_classes * model.num_features
        params = count_parameters(model) + head + args.num_classes
        macs = count_linear_macs(model, (h, w)) + head
        print(f'{arch:<18}{params:>14,}{macs / 1e9:>13.2f}G  '
              f'{",".join(map(str, model.out_strides)):<14}'
              f'{",".join(map(str, model.out_channels))}')


if __name__ == '__main__':
    main()
