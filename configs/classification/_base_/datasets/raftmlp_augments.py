# Training augmentations shared by ImageNet pre-training and transfer learning (original:
# libs/datasets.py, libs/augmentations.py).
#
# RandAugment as the original's `randaugment==1.0.2` package does it: per image, 2 ops drawn
# uniformly with repeats from these 15, each applied with probability 0.5 at its own random
# magnitude. Magnitude ranges are the package's 10-level linear ranges (level 9 = the max below).
# Approximation: the package draws an integer level 1..9; mmpretrain's `magnitude_std='inf'` draws
# a continuous level in [0, 9] (with total_level=9 the top of each range is the same). Fill
# colours: 128 for geometric ops, the package's RGB (125, 122, 113) for Cutout, written here in
# BGR because decoded images are BGR until the data preprocessor's to_rgb.
randaugment_policies = [
    dict(type='AutoContrast'),
    dict(type='Equalize'),
    dict(type='Invert'),
    dict(type='Posterize', magnitude_range=(8, 4)),
    dict(type='Solarize', magnitude_range=(256, 0)),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    dict(type='Translate', magnitude_range=(0, 150 / 331), direction='horizontal'),
    dict(type='Translate', magnitude_range=(0, 150 / 331), direction='vertical'),
    # PIL rotates counter-clockwise for positive angles and the package never flips the sign;
    # mmcv's positive angles are clockwise, so always negate.
    dict(type='Rotate', magnitude_range=(0, 30), random_negative_prob=1.),
    dict(type='Contrast', magnitude_range=(0, 0.9)),
    dict(type='ColorTransform', magnitude_range=(0, 0.9)),
    dict(type='Sharpness', magnitude_range=(0, 0.9)),
    dict(type='Brightness', magnitude_range=(0, 0.9)),
    dict(type='Cutout', magnitude_range=(0, 20), pad_val=(113, 122, 125)),
]
rand_augment = dict(
    type='RandAugment',
    policies=randaugment_policies,
    num_policies=2,
    magnitude_level=9,
    magnitude_std='inf',
    total_level=9,
    hparams=dict(pad_val=128))

# Mixup (alpha 0.8) and then CutMix (alpha 0.8) on every batch, one after the other as the
# original does; mmpretrain's own RandomBatchAugment would pick only one of them per batch.
mixup_cutmix = dict(
    augments=dict(type='raftmlp_mm.SequentialMixupCutMix', mixup_alpha=0.8, cutmix_alpha=0.8))
