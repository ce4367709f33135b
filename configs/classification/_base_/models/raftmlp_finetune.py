# Transfer learning from an ImageNet-1k checkpoint (original: configs/settings/finetune/*.yaml).
# Only the checkpoint's backbone.* keys are loaded (with the final LayerNorm), so the 1000-class
# classifier is dropped and the new head starts from PyTorch's default init. No stochastic depth
# when fine-tuning. Experiment configs set backbone.arch, backbone.init_cfg.checkpoint,
# head.num_classes and head.in_channels.
_base_ = ['./raftmlp.py']

model = dict(
    backbone=dict(
        drop_path_rate=0.,
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')))
