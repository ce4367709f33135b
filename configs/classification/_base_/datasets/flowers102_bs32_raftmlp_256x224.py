# Oxford Flowers-102 (102 classes). As the original, training uses the official split's large
# 6,149-image "tstid" part (mmpretrain's split='test') and evaluation its 1,020-image "valid" part
# (split='val').
# Layout: data/flowers102/{jpg/image_00001.jpg ..., imagelabels.mat, setid.mat}.
_base_ = ['./fine_grained_bs32_raftmlp_256x224.py']

data_preprocessor = dict(
    num_classes=102,
    mean=[0.435 * 255, 0.378 * 255, 0.287 * 255],
    std=[0.267 * 255, 0.246 * 255, 0.270 * 255])

train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='test'))
val_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='val'))
test_dataloader = val_dataloader
