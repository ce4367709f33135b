# RaftMLP-M fine-tuned on CIFAR-10 (paper's transfer learning): 50 epochs, AdamW 1e-4,
# 8 GPUs x 32 images, from the ImageNet-1k checkpoint below with its classifier dropped.
checkpoint = 'work_dirs/raftmlp_m_8xb256_in1k/epoch_305.pth'

_base_ = [
    '../_base_/models/raftmlp_finetune.py',
    '../_base_/datasets/cifar10_bs32_raftmlp_224.py',
    '../_base_/schedules/finetune_bs256_adamw_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='medium', init_cfg=dict(checkpoint=checkpoint)),
    head=dict(num_classes=10, in_channels=768))
