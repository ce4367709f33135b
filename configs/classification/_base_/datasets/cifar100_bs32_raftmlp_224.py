# CIFAR-100 for transfer learning (original: configs/settings/finetune/*.yaml, libs/datasets.py):
# the CIFAR-10 pipeline with CIFAR-100's statistics.
# Layout: data/cifar100/cifar-100-python/ (downloaded by mmpretrain when missing).
_base_ = ['./cifar10_bs32_raftmlp_224.py']

data_preprocessor = dict(
    num_classes=100,
    mean=[0.507 * 255, 0.487 * 255, 0.441 * 255],
    std=[0.267 * 255, 0.256 * 255, 0.276 * 255])

train_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
val_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
test_dataloader = val_dataloader
