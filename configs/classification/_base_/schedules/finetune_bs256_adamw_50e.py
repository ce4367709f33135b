# Transfer-learning schedule (original: configs/settings/finetune/*.yaml), the same for all 24
# fine-tuning runs: 50 epochs = 10 epochs of linear warm-up from 0 + 40 epochs of half-cosine down
# to 1e-5, per iteration. AdamW lr 1e-4, weight decay 1e-4 on every parameter.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4, betas=(0.9, 0.999), eps=1e-8))

param_scheduler = [
    # LinearLR cannot start at exactly 0; see imagenet_bs2048_adamw_305e.py
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=50,
         convert_to_iter_based=True),
]

# the seeded loop: a killed run resumed with --resume ends as the uninterrupted one
train_cfg = dict(type='raftmlp_mm.ExactResumeEpochBasedTrainLoop', max_epochs=50,
                 val_interval=1)
val_cfg = dict()
test_cfg = dict()

# The global batch is 256 (8 GPUs x 32); --auto-scale-lr rescales the lr for other totals.
auto_scale_lr = dict(base_batch_size=256)
