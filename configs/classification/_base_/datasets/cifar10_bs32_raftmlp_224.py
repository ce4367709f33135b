# CIFAR-10 for transfer learning (original: configs/settings/finetune/*.yaml, libs/datasets.py):
# 32x32 images upscaled to 224, 32 images per GPU.
# Layout: data/cifar10/cifar-10-batches-py/ (the official python archive; mmpretrain downloads it
# when it is missing, like the original's torchvision dataset).
_base_ = ['./raftmlp_augments.py']

data_preprocessor = dict(
    num_classes=10,
    mean=[0.4914 * 255, 0.4822 * 255, 0.4465 * 255],
    std=[0.2023 * 255, 0.1994 * 255, 0.2010 * 255],
    to_rgb=False,  # the CIFAR arrays are already RGB
    batch_augments=_base_.mixup_cutmix)

# The arrays are RGB, so Cutout's grey is given in RGB order here.
cifar_rand_augment = dict(
    _base_.rand_augment,
    policies=[dict(p, pad_val=(125, 122, 113)) if p['type'] == 'Cutout' else p
              for p in _base_.randaugment_policies])

train_pipeline = [
    # The original pads 4 px (black: torchvision's Pad) and crops 32 back; RandomCrop's own
    # fill=128 there never applies because that crop pads nothing itself.
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=0),
    dict(type='Resize', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    cifar_rand_augment,
    dict(type='PackInputs'),  # no random erasing when fine-tuning
]
test_pipeline = [
    dict(type='Resize', scale=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CIFAR10', data_root='data/cifar10', split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CIFAR10', data_root='data/cifar10', split='test',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
