# org-mixer fine-tuned on Stanford Cars (paper's transfer learning): 50 epochs, AdamW 1e-4,
# 8 GPUs x 32 images, from the ImageNet-1k checkpoint below with its classifier dropped.
checkpoint = 'work_dirs/org_mixer_8xb256_in1k/epoch_305.pth'

_base_ = [
    '../_base_/models/raftmlp_finetune.py',
    '../_base_/datasets/stanford_cars_bs32_raftmlp_256x224.py',
    '../_base_/schedules/finetune_bs256_adamw_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='org-mixer', init_cfg=dict(checkpoint=checkpoint)),
    head=dict(num_classes=196, in_channels=768))
