# iNaturalist 2018 (8,142 classes): train2018 / val2018, read by raftmlp_mm.INaturalist.
# Layout: data/i_naturalist_18/{train_val2018/<super category>/<id>/*.jpg, train2018.json,
#                               val2018.json}
_base_ = ['./fine_grained_bs32_raftmlp_256x224.py']

data_preprocessor = dict(
    num_classes=8142,
    mean=[0.467 * 255, 0.456 * 255, 0.450 * 255],
    std=[0.295 * 255, 0.294 * 255, 0.302 * 255])

train_dataloader = dict(dataset=dict(
    type='raftmlp_mm.INaturalist', data_root='data/i_naturalist_18', ann_file='train2018.json'))
val_dataloader = dict(dataset=dict(
    type='raftmlp_mm.INaturalist', data_root='data/i_naturalist_18', ann_file='val2018.json'))
test_dataloader = val_dataloader
