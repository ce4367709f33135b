# Semantic FPN with RaftMLP-S trained from scratch on the built-in digits canvases, CPU-sized.
# `python tools/misc/make_digits.py` writes data/digits_canvas in ADE20K's layout
# (images/{training,validation}/*.jpg, annotations/{training,validation}/*.png, 0 = background).
# The 128x128 canvases are trained and predicted at 64x64 (img_size 64: token grids 16/8/4/2,
# 56/28/14/7 at ImageNet's 224) and scored at full size; the FPN is narrowed.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/default_runtime.py',
]

custom_imports = dict(imports=['raftmlp_mm'], allow_failed_imports=False)

data_root = 'data/digits_canvas'
dataset_type = 'raftmlp_mm.DigitsSegDataset'  # 11 classes: background + 10 digits
img_size = 64
crop_size = (img_size, img_size)
num_iters = 1600

norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size, mean=[127.5] * 3, std=[127.5] * 3)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='raftmlp_mm.RaftMLP',
        arch='small',
        img_size=img_size,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128, num_outs=4),
    decode_head=dict(
        in_channels=[128] * 4, channels=64, num_classes=11, norm_cfg=norm_cfg,
        # background is 91% of the pixels: down-weighted so the digits drive the loss
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         class_weight=[0.2] + [1.0] * 10)),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # scales >= 1 so crops are never padded: mmseg's class-weighted loss fails on label 255
    dict(type='RandomResize', scale=crop_size, ratio_range=(1.0, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]  # no flips: a mirrored digit is not a digit
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: predictions are scored at the original size
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=0., begin=100, end=num_iters, by_epoch=False),
]
# the seeded loop, atomic checkpoints, the non-finite-loss stop and the run record, as the
# ADE20K configs (docs/reliability.md)
train_cfg = dict(type='raftmlp_mm.ExactResumeIterBasedTrainLoop', max_iters=num_iters,
                 val_interval=num_iters // 2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='raftmlp_mm.SafeCheckpointHook', by_epoch=False, interval=num_iters // 2,
                    max_keep_ckpts=1))
custom_hooks = [dict(type='raftmlp_mm.StopOnNonFiniteLoss'), dict(type='raftmlp_mm.RecordRunInfo')]
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=42)
