"""The matrix-product RoIAlign (raftmlp_mm/models/roi_align.py) computes mmcv's RoIAlign, and the
demo detector with it and the matrix-product mask head trains as with mmcv's and mmdet's parts."""
import copy

import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmengine.config import Config
from mmengine.registry import DefaultScope

from raftmlp_mm.models.mask_head import MatmulFCNMaskHead
from raftmlp_mm.models.roi_align import MatmulRoIAlign

DEMO = 'configs/detection/demo/maskrcnn_raftmlp_s_fpn_digits.py'


def random_rois(count: int, images: int, seed: int = 0) -> torch.Tensor:
    """(count, 5) RoIs on 128x128 images, in shuffled image order: some reach past the border,
    some are a few pixels or empty, as proposals early in training are."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.randint(0, images, (count, 1), generator=gen).float()
    corner = torch.rand(count, 2, generator=gen) * 160 - 16
    size = torch.rand(count, 2, generator=gen) * 64
    size[: count // 8] = 0  # empty RoIs
    return torch.cat([image, corner, corner + size], 1)


@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('output_size,stride', [(7, 4), (14, 8)])
def test_matches_mmcv_forward_and_backward(sampling_ratio, aligned, output_size, stride):
    torch.manual_seed(0)
    feats = torch.randn(3, 16, 128 // stride, 96 // stride, dtype=torch.float64)
    feats = feats.float().requires_grad_()
    rois = random_rois(96, images=3)
    ours = MatmulRoIAlign(output_size, 1 / stride, sampling_ratio, aligned=aligned)
    mmcv = RoIAlign(output_size, 1 / stride, sampling_ratio, aligned=aligned)
    expected, out = mmcv(feats, rois), ours(feats, rois)
    assert out.shape == expected.shape == (96, 16, output_size, output_size)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(out)
    expected_grad, = torch.autograd.grad(expected, feats, grad)
    our_grad, = torch.autograd.grad(out, feats, grad)
    torch.testing.assert_close(our_grad, expected_grad, atol=1e-4, rtol=1e-4)


def test_no_rois_and_images_without_rois():
    feats = torch.randn(4, 8, 16, 16)
    assert MatmulRoIAlign(7, 0.25)(feats, torch.zeros(0, 5)).shape == (0, 8, 7, 7)
    rois = torch.tensor([[2., 8., 8., 40., 30.]])  # only image 2 of 4 has a RoI
    torch.testing.assert_close(MatmulRoIAlign(7, 0.25)(feats, rois),
                               RoIAlign(7, 0.25, 0)(feats, rois), atol=1e-5, rtol=1e-5)


def test_max_pooling_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="pool_mode='avg' only.*mmcv's RoIAlign"):
        MatmulRoIAlign(7, 0.25, pool_mode='max')


def build_detector(cfg):
    from mmdet.registry import MODELS

    import raftmlp_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def test_demo_detector_runs_it_and_trains_as_with_mmcv(digits_canvas):
    """The demo config names the extractor, layer and mask head, and its losses and gradients
    equal those of the same detector with mmcv's RoIAlign and mmdet's FCNMaskHead."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    cfg = Config.fromfile(DEMO)
    cfg.train_dataloader.dataset.data_root = digits_canvas
    with_mmcv = copy.deepcopy(cfg)
    for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
        extractor = with_mmcv.model.roi_head[name]
        extractor.type = 'SingleRoIExtractor'
        extractor.roi_layer.type = 'RoIAlign'
    with_mmcv.model.roi_head.mask_head.type = 'FCNMaskHead'
    ours, theirs = build_detector(cfg), build_detector(with_mmcv)
    for model in (ours, theirs):
        model.train()
    theirs.load_state_dict(ours.state_dict())
    layers = [*ours.roi_head.bbox_roi_extractor.roi_layers,
              *ours.roi_head.mask_roi_extractor.roi_layers]
    assert layers and all(isinstance(layer, MatmulRoIAlign) for layer in layers)
    theirs_layers = theirs.roi_head.bbox_roi_extractor.roi_layers
    assert all(isinstance(layer, RoIAlign) for layer in theirs_layers)
    assert type(ours.roi_head.mask_head) is MatmulFCNMaskHead
    assert type(theirs.roi_head.mask_head) is FCNMaskHead

    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(4)])
    results = []
    for model in (ours, theirs):
        torch.manual_seed(0)  # the RPN and RoI samplers draw at random
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        loss.backward()
        results.append((losses, {n: p.grad.clone() for n, p in model.named_parameters()
                                 if p.grad is not None}))
    (our_losses, our_grads), (mmcv_losses, mmcv_grads) = results
    assert our_losses.keys() == mmcv_losses.keys()
    for name in our_losses:
        torch.testing.assert_close(our_losses[name], mmcv_losses[name], atol=1e-4, rtol=1e-4)
    assert our_grads.keys() == mmcv_grads.keys()
    for name in ('roi_head.mask_head.convs.0.conv.weight', 'roi_head.mask_head.upsample.weight',
                 'roi_head.mask_head.conv_logits.bias', 'roi_head.bbox_head.shared_fcs.0.weight',
                 'backbone.levels.0.patch_embed.weights.0', 'neck.lateral_convs.0.conv.weight'):
        assert name in our_grads, name
        torch.testing.assert_close(our_grads[name], mmcv_grads[name], atol=1e-4, rtol=1e-3)
