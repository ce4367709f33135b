_base_ = ['./_base_/maskrcnn_raftmlp_fpn_1x_coco.py']

# ImageNet checkpoint of large (mmpretrain format): tools/model_converters/raftmlp_to_mmpretrain.py
# converts the authors' release; or pretrain configs/classification/raftmlp_l_8xb256_in1k.py.
pretrained = 'checkpoints/raftmlp_l_8xb256_in1k.pth'

model = dict(
    backbone=dict(arch='large',
                  init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[128, 192, 512, 1024]))
