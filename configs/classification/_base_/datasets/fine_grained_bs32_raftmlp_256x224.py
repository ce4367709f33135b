# Pipeline shared by Flowers-102, Stanford Cars and iNaturalist 2018/2019 fine-tuning (original:
# configs/settings/finetune/*.yaml, libs/datasets.py): non-square 256 (height) x 224 (width)
# inputs, as the original's dataset getters produce; the backbone keeps its 224x224 token grids and
# resamples to them. 32 images per GPU. The dataset files set the dataset type, root and splits and
# the normalisation.
_base_ = ['./raftmlp_augments.py']

data_preprocessor = dict(to_rgb=True, batch_augments=_base_.mixup_cutmix)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=(256, 224), crop_ratio_range=(0.8, 1.0),
         aspect_ratio_range=(3 / 4, 4 / 3), backend='pillow', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    _base_.rand_augment,
    dict(type='PackInputs'),  # no random erasing when fine-tuning
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # the whole image squeezed to 256x224 (mmcv's scale is (w, h)); no crop
    dict(type='Resize', scale=(224, 256), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
