"""The main job of `make demo`: the arch table and a fidelity check against the original code.

Prints, for every published arch, parameters (with a 1000-class head), linear MACs at 224x224,
output strides and channels, measured on the models themselves; then converts the small models
in tests/data/golden_tiny.pt (built with the authors' implementation) and compares logits.
"""
import os.path as osp

import torch

from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.convert import arch_from_original_config, convert_to_mmpretrain
from raftmlp_mm.utils import count_linear_macs, count_parameters

GOLDEN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tests', 'data',
                  'golden_tiny.pt')
ARCHS = ['small', 'medium', 'large', 'hierarchy-medium', 'org-mixer', 'raft-r1', 'raft-r2',
         'raft-r4']


def arch_table():
    print(f'{"arch":<18}{"params":>14}{"MACs@224":>11}  {"strides":<14}channels')
    for arch in ARCHS:
        levels = len(RaftMLP.arch_zoo[arch]['depths'])
        model = RaftMLP(arch=arch, out_indices=tuple(range(levels)))
        params = count_parameters(model) + 1000 * model.num_features + 1000
        macs = count_linear_macs(model) + model.num_features * 1000
        strides = ','.join(map(str, model.out_strides))
        channels = ','.join(map(str, model.out_channels))
        print(f'{arch:<18}{params:>14,}{macs / 1e9:>10.2f}G  {strides:<14}{channels}')


def fidelity_check():
    golden = torch.load(GOLDEN)
    for name, case in golden.items():
        if not isinstance(case, dict):
            continue
        arch = arch_from_original_config(case['config'])
        model = RaftMLP(arch=arch, img_size=case['image_size'])
        head = torch.nn.Linear(arch['channels'][-1], case['num_classes'])
        state = convert_to_mmpretrain(case['state_dict'], arch=arch)['state_dict']
        model.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith('backbone.')})
        head.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith('head.fc.')})
        model.eval()
        for size in ('224', 'odd'):
            x = golden[f'input_{size}']
            with torch.no_grad():
                logits = head(model(x)[0].mean(dim=(2, 3)))
            err = (logits - case[f'logits_{size}']).abs().max().item()
            status = 'ok' if err < 1e-5 else 'MISMATCH'
            print(f'{name:<30} input {tuple(x.shape[-2:])}: max |logit diff| {err:.2e} {status}')


if __name__ == '__main__':
    arch_table()
    print()
    fidelity_check()
