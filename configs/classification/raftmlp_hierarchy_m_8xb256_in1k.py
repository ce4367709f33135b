# hierarchy-M: RaftMLP-M with a plain linear patch embedding (paper Sec. 4.2 embedding ablation),
# trained from scratch on ImageNet-1k with the original recipe: 305 epochs, 8 GPUs x 256 images.
_base_ = [
    '_base_/models/raftmlp.py',
    '_base_/datasets/imagenet_bs256_raftmlp.py',
    '_base_/schedules/imagenet_bs2048_adamw_305e.py',
    '_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='hierarchy-medium'), head=dict(in_channels=768))
