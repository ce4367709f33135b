# RetinaNet + FPN on COCO with a RaftMLP backbone. mmdet's RetinaNet neck starts at level 1
# (strides 8/16/32 + two extra convs on the input), as the original configs did.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    './raftmlp_det_1x.py',
]

model = dict(
    backbone={{_base_.raftmlp_backbone}},
    neck=dict(in_channels=[64, 128, 256, 512]))
