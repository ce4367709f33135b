# Semantic FPN, RaftMLP-S backbone, ADE20K 512x512, 40k iterations (8 GPUs x 4 images).
_base_ = ['./_base_/fpn_raftmlp_40k_ade20k.py']

# the ImageNet-1k RaftMLP-S classifier in mmpretrain's layout (docs/segmentation.md)
pretrained = 'checkpoints/raftmlp_s_8xb256_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))
