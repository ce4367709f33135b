# Semantic FPN, org-mixer (MLP-Mixer-B/16 baseline) backbone, ADE20K 512x512, 40k iterations.
_base_ = ['./_base_/fpn_raftmlp_40k_ade20k.py']

# the ImageNet-1k org-mixer classifier in mmpretrain's layout (docs/segmentation.md)
pretrained = 'checkpoints/org_mixer_8xb256_in1k.pth'

model = dict(
    backbone=dict(
        arch='org-mixer',
        # blocks 4, 6, 8, 12 (1-based) become a stride 4/8/16/32 pyramid for the FPN; the
        # original fed four stride-16 maps
        pyramid_blocks=(3, 5, 7, 11),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[768, 768, 768, 768]))
