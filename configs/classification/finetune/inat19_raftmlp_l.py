# RaftMLP-L fine-tuned on iNaturalist 2019 (paper's transfer learning): 50 epochs, AdamW 1e-4,
# 8 GPUs x 32 images, from an ImageNet-1k checkpoint with its classifier dropped.
# The checkpoint (mmpretrain format): tools/model_converters/raftmlp_to_mmpretrain.py converts the
# authors' release; or pretrain configs/classification/raftmlp_l_8xb256_in1k.py and copy its last
# checkpoint here.
pretrained = 'checkpoints/raftmlp_l_8xb256_in1k.pth'

_base_ = [
    '../_base_/models/raftmlp_finetune.py',
    '../_base_/datasets/inat19_bs32_raftmlp_256x224.py',
    '../_base_/schedules/finetune_bs256_adamw_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='large', init_cfg=dict(checkpoint=pretrained)),
    head=dict(num_classes=1010, in_channels=1024))
