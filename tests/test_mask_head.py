"""The matrix-product mask head (raftmlp_mm/models/mask_head.py) computes mmdet's FCNMaskHead."""
import pytest
import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmengine.registry import DefaultScope

from raftmlp_mm.models.mask_head import MatmulFCNMaskHead


def head_pair(**kwargs):
    """Ours and mmdet's head with the same weights (random biases, so that both are used)."""
    torch.manual_seed(0)
    ours = MatmulFCNMaskHead(**kwargs)
    for param in ours.parameters():
        torch.nn.init.normal_(param, std=0.2)
    theirs = FCNMaskHead(**kwargs)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize('num_convs,in_channels,conv_out_channels,num_classes,class_agnostic', [
    (2, 64, 32, 10, False),  # the demo's head
    (0, 16, 8, 3, False),  # no convolutions: the upsampling reads the RoI features
    (1, 8, 16, 5, True),  # one logit channel
])
def test_matches_mmdet_forward_and_backward(num_convs, in_channels, conv_out_channels,
                                            num_classes, class_agnostic):
    ours, theirs = head_pair(num_convs=num_convs, in_channels=in_channels,
                             conv_out_channels=conv_out_channels, num_classes=num_classes,
                             class_agnostic=class_agnostic)
    assert ours._upsamples_by_gemm()
    feats = torch.randn(6, in_channels, 14, 14)
    out_feats, their_feats = feats.clone().requires_grad_(), feats.clone().requires_grad_()
    out, expected = ours(out_feats), theirs(their_feats)
    assert out.shape == expected.shape == (6, 1 if class_agnostic else num_classes, 28, 28)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(out_feats.grad, their_feats.grad, atol=1e-5, rtol=1e-5)
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, their_params[name].grad, atol=1e-4, rtol=1e-4,
                                   msg=name)


def test_no_rois():
    ours, theirs = head_pair(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=4)
    feats = torch.zeros(0, 8, 14, 14)
    assert ours(feats).shape == theirs(feats).shape == (0, 4, 28, 28)


@pytest.mark.parametrize('setting', [dict(upsample_cfg=dict(type='bilinear', scale_factor=2)),
                                     dict(upsample_cfg=dict(type='deconv', scale_factor=4)),
                                     dict(predictor_cfg=dict(type='Conv', bias=False))])
def test_other_settings_run_mmdets_forward(setting):
    ours, theirs = head_pair(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=4,
                             **setting)
    assert not ours._upsamples_by_gemm()
    feats = torch.randn(3, 8, 14, 14)
    torch.testing.assert_close(ours(feats), theirs(feats))


def test_a_config_builds_it_by_its_scoped_name():
    from mmdet.registry import MODELS

    import raftmlp_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(dict(type='raftmlp_mm.MatmulFCNMaskHead', num_convs=2,
                                 in_channels=16, conv_out_channels=8, num_classes=3))
    assert type(head) is MatmulFCNMaskHead
    assert set(head.state_dict()) == set(FCNMaskHead(num_convs=2, in_channels=16,
                                                     conv_out_channels=8,
                                                     num_classes=3).state_dict())
