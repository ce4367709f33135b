# RaftMLP-S trained from scratch on the built-in digits (sklearn's 1,797 8x8 scans upscaled to
# 32x32; `python tools/misc/make_digits.py` writes them, `make demo-cls` runs this config).
# CPU-sized: img_size 32 gives token grids 8/4/2/1 instead of 56/28/14/7.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/digits_cls'
img_size = 32

model = dict(
    type='ImageClassifier',
    backbone=dict(type='raftmlp_mm.RaftMLP', arch='small', img_size=img_size,
                  drop_path_rate=0.05),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1), topk=(1, )))

data_preprocessor = dict(
    num_classes=10, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.7, 1.0)),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=5),
]
# 5 epochs (225 iterations) reach 98.9% top-1 on the held-out digits in under a minute on
# 2 idle CPU cores
train_cfg = dict(type='raftmlp_mm.ExactResumeEpochBasedTrainLoop', max_epochs=5, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)

default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(type='raftmlp_mm.SafeCheckpointHook', interval=1,
                                     max_keep_ckpts=1, save_best=None))
# one seed on every process, so any number of processes trains the same model
randomness = dict(seed=42, diff_rank_seed=False)
