"""raftmlp_mm computes what the authors' original RaftMLP computes (golden tensors, 1e-5)."""
import pytest
import torch
from mmpretrain.models import build_classifier

from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.convert import arch_from_original_config, convert_to_mmpretrain

CASES = ['tiny-hierarchical-cross-emb', 'tiny-hierarchical-linear-emb', 'tiny-single-level-raft4',
         'tiny-org-mixer']
SIZES = ['224', 'odd']
ATOL = 1e-5


def build_from_golden(case):
    arch = arch_from_original_config(case['config'])
    classifier = build_classifier(dict(
        type='ImageClassifier',
        backbone=dict(type='raftmlp_mm.RaftMLP', arch=arch, img_size=case['image_size'],
                      token_expansion=case['token_expansion_factor'],
                      channel_expansion=case['channel_expansion_factor']),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=case['num_classes'],
                  in_channels=arch['channels'][-1])))
    checkpoint = convert_to_mmpretrain(dict(state_dict=case['state_dict']), arch=arch,
                                       img_size=case['image_size'])
    classifier.load_state_dict(checkpoint['state_dict'], strict=True)
    return classifier.eval(), arch, checkpoint


@pytest.mark.parametrize('name', CASES)
@pytest.mark.parametrize('size', SIZES)
def test_logits_match_original(golden, name, size):
    case = golden[name]
    classifier, _, _ = build_from_golden(case)
    with torch.no_grad():
        logits = classifier(golden[f'input_{size}'], mode='tensor')
    expected = case[f'logits_{size}']
    assert logits.shape == expected.shape
    torch.testing.assert_close(logits, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize('name', CASES)
@pytest.mark.parametrize('size', SIZES)
def test_level_outputs_match_original(golden, name, size):
    case = golden[name]
    _, arch, checkpoint = build_from_golden(case)
    expected = case[f'level_outputs_{size}']
    # Level outputs are taken before the classifier's final LayerNorm, as for dense heads.
    backbone = RaftMLP(arch=arch, img_size=case['image_size'], final_norm=False,
                       token_expansion=case['token_expansion_factor'],
                       channel_expansion=case['channel_expansion_factor'],
                       out_indices=list(range(len(expected)))).eval()
    state = {k[len('backbone.'):]: v for k, v in checkpoint['state_dict'].items()
             if k.startswith('backbone.') and not k.startswith('backbone.norm.')}
    backbone.load_state_dict(state, strict=True)
    with torch.no_grad():
        outs = backbone(golden[f'input_{size}'])
    assert len(outs) == len(expected)
    for level, (out, ref) in enumerate(zip(outs, expected)):
        assert out.shape == ref.shape, f'level {level}'
        torch.testing.assert_close(out, ref, atol=ATOL, rtol=0, msg=f'level {level}')
