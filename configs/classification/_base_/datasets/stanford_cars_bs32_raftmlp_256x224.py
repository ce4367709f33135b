# Stanford Cars (196 classes): official cars_train (8,144) / cars_test (8,041).
# Layout (the original README's, with the labelled test annotations inside devkit/, where
# mmpretrain's StanfordCars reads them):
#   data/stanford_cars/{cars_train/*.jpg, cars_test/*.jpg,
#                       devkit/{cars_train_annos.mat, cars_test_annos_withlabels.mat, ...}}
_base_ = ['./fine_grained_bs32_raftmlp_256x224.py']

data_preprocessor = dict(
    num_classes=196,
    mean=[0.467 * 255, 0.456 * 255, 0.450 * 255],
    std=[0.295 * 255, 0.294 * 255, 0.302 * 255])

train_dataloader = dict(
    dataset=dict(type='StanfordCars', data_root='data/stanford_cars', split='train'))
val_dataloader = dict(
    dataset=dict(type='StanfordCars', data_root='data/stanford_cars', split='test'))
test_dataloader = val_dataloader
