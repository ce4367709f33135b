# iNaturalist 2019 (1,010 classes): train2019 / val2019, read by raftmlp_mm.INaturalist.
# Layout: data/i_naturalist_19/{train_val2019/<super category>/<id>/*.jpg, train2019.json,
#                               val2019.json}
_base_ = ['./fine_grained_bs32_raftmlp_256x224.py']

data_preprocessor = dict(
    num_classes=1010,
    mean=[0.471 * 255, 0.482 * 255, 0.401 * 255],
    std=[0.239 * 255, 0.233 * 255, 0.259 * 255])

train_dataloader = dict(dataset=dict(
    type='raftmlp_mm.INaturalist', data_root='data/i_naturalist_19', ann_file='train2019.json'))
val_dataloader = dict(dataset=dict(
    type='raftmlp_mm.INaturalist', data_root='data/i_naturalist_19', ann_file='val2019.json'))
test_dataloader = val_dataloader
