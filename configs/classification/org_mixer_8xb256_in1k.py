# org-mixer, the re-trained MLP-Mixer-B/16 baseline (paper Sec. 4.2 channel-raft ablation),
# trained from scratch on ImageNet-1k with the original recipe: 305 epochs, 8 GPUs x 256 images.
_base_ = [
    '_base_/models/raftmlp.py',
    '_base_/datasets/imagenet_bs256_raftmlp.py',
    '_base_/schedules/imagenet_bs2048_adamw_305e.py',
    '_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='org-mixer'), head=dict(in_channels=768))
