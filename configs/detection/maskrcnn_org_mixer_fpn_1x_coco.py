_base_ = ['./_base_/maskrcnn_raftmlp_fpn_1x_coco.py']

# ImageNet checkpoint of org-mixer (mmpretrain format):
# tools/model_converters/raftmlp_to_mmpretrain.py
# converts the authors' release; or pretrain configs/classification/org_mixer_8xb256_in1k.py.
pretrained = 'checkpoints/org_mixer_8xb256_in1k.pth'

model = dict(
    backbone=dict(arch='org-mixer',
                  # a real stride 4/8/16/32 pyramid from blocks 4, 6, 8 and 12
                  pyramid_blocks=(3, 5, 7, 11),
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[768, 768, 768, 768]))
