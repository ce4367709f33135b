_base_ = ['./_base_/retinanet_raftmlp_fpn_1x_coco.py']

# ImageNet checkpoint of medium (mmpretrain format): tools/model_converters/raftmlp_to_mmpretrain.py
# converts the authors' release; or pretrain configs/classification/raftmlp_m_8xb256_in1k.py.
pretrained = 'checkpoints/raftmlp_m_8xb256_in1k.pth'

model = dict(
    backbone=dict(arch='medium',
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
