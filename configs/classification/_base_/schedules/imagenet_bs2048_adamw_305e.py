# ImageNet-1k schedule (original: configs/settings/imagenet-*.yaml, libs/train.py): 305 epochs = 5
# epochs of linear warm-up from 0 + 300 epochs of half-cosine down to 1e-5, stepped every
# iteration. AdamW lr 2e-3, weight decay 0.05 on every parameter (norms and biases included), fp32,
# no gradient clipping, no EMA.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8))

param_scheduler = [
    # mmengine's LinearLR cannot start at exactly 0 (its chained form divides by the start);
    # 1e-6 of the lr is the original's 0 for every practical purpose.
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=305,
         convert_to_iter_based=True),
]

# the seeded loop: a killed run resumed with --resume ends as the uninterrupted one
train_cfg = dict(type='raftmlp_mm.ExactResumeEpochBasedTrainLoop', max_epochs=305,
                 val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr 2e-3 is for the global batch of 2048 (8 GPUs x 256). On another number of GPUs keep 2048
# by changing the per-GPU batch, or pass --auto-scale-lr to scale the lr linearly.
auto_scale_lr = dict(base_batch_size=2048)
