# RaftMLP image classifier, as the original's: backbone ending in the paper's LayerNorm -> global
# average pooling -> linear classifier, trained with label-smoothing cross-entropy (epsilon 0.1,
# uniform). Experiment configs set backbone.arch and head.in_channels (the arch's last channels).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='raftmlp_mm.RaftMLP', arch='small', img_size=224,
                  drop_path_rate=0.1),  # constant on every residual branch, as the original
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        # The original keeps PyTorch's default initialisation everywhere, classifier included.
        init_cfg=None))
