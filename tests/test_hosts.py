"""The backbone builds from mmpretrain, mmdet and mmseg configs through the plugin's scope."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.utils import import_modules_from_strings

HOSTS = ['mmpretrain', 'mmdet', 'mmseg']


def host_models_registry(scope):
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    elif scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    return MODELS


@pytest.mark.parametrize('scope', HOSTS)
def test_scoped_type_builds_from_every_host(scope):
    cfg = Config(dict(
        default_scope=scope,
        custom_imports=dict(imports=['raftmlp_mm'], allow_failed_imports=False),
        backbone=dict(type='raftmlp_mm.RaftMLP', arch='s', out_indices=(0, 1, 2, 3))))
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope(scope):
        backbone = host_models_registry(scope).build(cfg.backbone)
    assert type(backbone).__name__ == 'RaftMLP'
    assert backbone.out_channels == [64, 128, 256, 512]
    with torch.no_grad():
        outs = backbone.eval()(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]


def test_mmpretrain_classifier_train_and_predict_steps():
    init_default_scope('mmpretrain')
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='raftmlp_mm.RaftMLP', arch='s', img_size=64),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
                  loss=dict(type='CrossEntropyLoss'))))
    data = dict(inputs=torch.randn(2, 3, 64, 64),
                data_samples=[DataSample().set_gt_label(1), DataSample().set_gt_label(7)])
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.head.fc.weight.detach().clone()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(before, model.head.fc.weight)
    preds = model.val_step(data)
    assert len(preds) == 2 and preds[0].pred_score.shape == (10, )
