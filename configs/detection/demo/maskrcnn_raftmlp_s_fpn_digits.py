# The built-in demo: Mask R-CNN with a RaftMLP-S backbone trained from scratch on the digits
# canvases (`python tools/misc/make_digits.py`: 128x128 images, 1-4 handwritten digits each,
# the digit's ink as its mask). CPU-sized: the backbone's token grids are 32/16/8/4 (img_size
# 128) and the RoI heads are slimmer than COCO's; the rest is the COCO recipe's structure.
# RoIAlign runs as matrix products (raftmlp_mm/models/roi_align.py; the same numbers as mmcv's
# RoIAlign to float rounding): on these small maps that is several times faster on a CPU, where
# mmcv's RoIAlign took about a third of every iteration. The mask head's upsampling and logits
# run as matrix products too (raftmlp_mm/models/mask_head.py).
_base_ = ['../_base_/maskrcnn_raftmlp_fpn_1x_coco.py']

data_root = 'data/digits_canvas/'
metainfo = dict(classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'))
num_classes = 10
img_scale = (128, 128)
fpn_channels = 64  # COCO: 256; the neck's and heads' convolutions cost about channels^2

model = dict(
    backbone=dict(arch='small', img_size=128, init_cfg=None),
    neck=dict(out_channels=fpn_channels),
    rpn_head=dict(in_channels=fpn_channels, feat_channels=fpn_channels,
                  anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(type='raftmlp_mm.SingleRoIExtractor', out_channels=fpn_channels,
                                roi_layer=dict(type='MatmulRoIAlign', output_size=7,
                                               sampling_ratio=0)),
        bbox_head=dict(in_channels=fpn_channels, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(type='raftmlp_mm.SingleRoIExtractor', out_channels=fpn_channels,
                                roi_layer=dict(type='MatmulRoIAlign', output_size=14,
                                               sampling_ratio=0)),
        # COCO: 4 convolutions of 256 channels. The mask head runs on every positive RoI (up to
        # 16 an image) at 14x14 and 28x28, so its width sets a large share of an iteration.
        # mmdet's FCNMaskHead with its upsampling and logits as GEMMs (the same function and
        # weights; raftmlp_mm/models/mask_head.py).
        mask_head=dict(type='raftmlp_mm.MatmulFCNMaskHead', in_channels=fpn_channels,
                       num_convs=2, conv_out_channels=32, num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),  # 1-4 digits a canvas
        rcnn=dict(sampler=dict(num=64))),  # up to 16 positives an image for the mask head
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs'),  # no flip: mirrored digits are other shapes
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='images/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='images/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# From scratch at lr 1e-3: 8 epochs, then 2 at 1e-4 reach about the held-out mAP that 14 epochs
# at 5e-4 did (an 11th epoch at 1e-5 moved it within run-to-run noise; 9 epochs fall short:
# docs/benchmarks.md, "The demo's time").
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)  # held-out mAP once, at the end
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[8], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=4, max_keep_ckpts=2))
