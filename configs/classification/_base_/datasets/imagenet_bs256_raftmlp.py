# ImageNet-1k with the original's pipeline, 256 images per GPU.
# Layout: data/imagenet/{train,val}/<wnid>/*.JPEG (or mmpretrain's meta/{train,val}.txt lists).
_base_ = ['./raftmlp_augments.py']

dataset_type = 'ImageNet'
data_root = 'data/imagenet'

data_preprocessor = dict(
    num_classes=1000,
    mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
    std=[0.229 * 255, 0.224 * 255, 0.225 * 255],
    to_rgb=True,
    batch_augments=_base_.mixup_cutmix)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # Resize(256) on the shorter side, then a plain RandomCrop(224): no RandomResizedCrop.
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    _base_.rand_augment,
    # The original's "Cutout": random erasing filled with black before normalisation. mmpretrain
    # clips an oversized box to the image where the original re-draws it (up to 10 tries).
    dict(type='RandomErasing', erase_prob=0.25, min_area_ratio=0.02, max_area_ratio=1 / 3,
         aspect_range=(0.3, 1 / 0.3), mode='const', fill_color=(0, 0, 0)),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=512,  # validation at twice the training batch, as the original
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
