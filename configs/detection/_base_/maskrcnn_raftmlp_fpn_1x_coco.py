# Mask R-CNN + FPN on COCO with a RaftMLP backbone: mmdet's own model, data and schedule, with
# the backbone swapped. Experiments set `arch`, the neck's in_channels and the checkpoint.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    './raftmlp_det_1x.py',
]

model = dict(
    backbone={{_base_.raftmlp_backbone}},
    neck=dict(in_channels=[64, 128, 256, 512]))
