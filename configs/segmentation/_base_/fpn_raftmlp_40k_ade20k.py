# Semantic FPN with a RaftMLP backbone on ADE20K: the recipe of the RaftMLP paper (mmseg 0.18
# originally), on mmseg 1.x's own bases. 40k iterations, AdamW 2e-4 / wd 1e-4, poly 0.9 to 0 with no
# warm-up, 8 GPUs x 4 images, 512x512 crops, reduce_zero_label, mIoU every 4k iterations, seed 42.
# Experiment files set the arch, the FPN in_channels and the pretrained checkpoint.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',  # RandomResize (2048, 512) x 0.5-2, crop 512, flip,
    'mmseg::_base_/default_runtime.py',  # photometric distortion; test: resize (2048, 512)
    'mmseg::_base_/schedules/schedule_40k.py',
]

custom_imports = dict(imports=['raftmlp_mm'], allow_failed_imports=False)

crop_size = (512, 512)
# training batches are padded to the crop (labels with 255); test images are fed whole, at their
# resized size (e.g. 512x683): the backbone resamples internally, no padding to a multiple of 32
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='raftmlp_mm.RaftMLP',
        arch='small',
        img_size=224,  # the ImageNet pretraining size: fixes the token-MLP grids
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.,  # as the original detection / segmentation backbones
        final_norm=True),  # keeps an mmpretrain checkpoint's backbone.norm.* keys in use
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=256, num_outs=4),
    # SyncBN as mmseg's base (plain BN on CPU: tools/train.py switches it; under other
    # launchers --cfg-options model.decode_head.norm_cfg.type=BN)
    decode_head=dict(num_classes=150),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=4)  # x 8 GPUs = 32 images per iteration

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),  # decay on every parameter
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0., begin=0, end=40000, by_epoch=False),
]
# the seeded loop, atomic checkpoints, the non-finite-loss stop and the run record: a killed
# run resumed with --resume ends as the uninterrupted one (docs/reliability.md)
train_cfg = dict(type='raftmlp_mm.ExactResumeIterBasedTrainLoop', max_iters=40000,
                 val_interval=4000)
default_hooks = dict(
    checkpoint=dict(type='raftmlp_mm.SafeCheckpointHook', by_epoch=False, interval=4000,
                    save_best='mIoU', max_keep_ckpts=3))
custom_hooks = [dict(type='raftmlp_mm.StopOnNonFiniteLoss'), dict(type='raftmlp_mm.RecordRunInfo')]
auto_scale_lr = dict(enable=False, base_batch_size=32)  # tools/train.py --auto-scale-lr

# seed 42; MMEngine's deterministic=True would call torch.use_deterministic_algorithms, which
# refuses the backward of CUDA bicubic / bilinear interpolation that the backbone and head use
randomness = dict(seed=42)
