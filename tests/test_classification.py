"""Classification: the paper's 32 configs take real steps, the recipe's extras, and the tools.

Real datasets are absent here, so every config runs on tiny generated copies of its dataset's
on-disk layout (ImageNet folders, CIFAR pickles, Flowers/Cars .mat files, iNaturalist json).
"""
import glob
import json
import math
import os
import os.path as osp
import pickle
import re
import sys

import mat4py
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from raftmlp_mm.datasets import INaturalist, SequentialMixupCutMix
from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.convert import arch_from_original_config, convert_to_mmpretrain

from .conftest import REPO_ROOT
from .utils import python_tool, run

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'classification')
IMAGENET_CONFIGS = [f'{name}_8xb256_in1k.py' for name in (
    'raftmlp_s', 'raftmlp_m', 'raftmlp_l', 'org_mixer', 'raftmlp_r1', 'raftmlp_r2', 'raftmlp_r4',
    'raftmlp_hierarchy_m')]
FINETUNE_CONFIGS = [f'finetune/{data}_{model}.py'
                    for data in ('cifar10', 'cifar100', 'flowers102', 'cars', 'inat18', 'inat19')
                    for model in ('org_mixer', 'raftmlp_s', 'raftmlp_m', 'raftmlp_l')]
DEMO_CONFIG = 'configs/classification/demo/raftmlp_s_digits.py'

# (input height, width) the backbone must receive, train and val, per data root
INPUT_SIZES = {'imagenet': (224, 224), 'cifar10': (224, 224), 'cifar100': (224, 224),
               'flowers102': (256, 224), 'stanford_cars': (256, 224),
               'i_naturalist_18': (256, 224), 'i_naturalist_19': (256, 224)}


# ------------------------------------------------------------------------ tiny dataset layouts
def _save_image(path: str, height: int, width: int, seed: int):
    os.makedirs(osp.dirname(path), exist_ok=True)
    pixels = np.random.RandomState(seed).randint(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_tiny_imagenet(root):
    """The README's layout: {train,val}/<wnid>/*.JPEG, all 1000 class folders, 2 images in
    each split."""
    for split in ('train', 'val'):
        for index in range(1000):
            os.makedirs(osp.join(root, split, f'n{index:08d}'), exist_ok=True)
        for index in (0, 1):
            _save_image(osp.join(root, split, f'n{index:08d}', f'{split}_{index}.JPEG'),
                        300, 280, seed=index)


def write_tiny_cifar(root, folder, train_files, test_files, label_key):
    """The official python pickles (N x 3072 uint8 rows, channel-major)."""
    rng = np.random.RandomState(0)
    os.makedirs(osp.join(root, folder))
    for name in train_files + test_files:
        count = 2 if name in (train_files[0], test_files[0]) else 0  # 2 images per split
        entry = {'data': rng.randint(0, 256, (count, 3 * 32 * 32), dtype=np.uint8),
                 label_key: [0, 1][:count]}
        with open(osp.join(root, folder, name), 'wb') as f:
            pickle.dump(entry, f)


def write_tiny_flowers(root):
    """jpg/image_%05d.jpg with imagelabels.mat (1-based labels) and setid.mat (1-based ids)."""
    for image_id in range(1, 7):
        _save_image(osp.join(root, 'jpg', f'image_{image_id:05d}.jpg'), 260, 300, image_id)
    mat4py.savemat(osp.join(root, 'imagelabels.mat'), {'labels': [1, 2, 1, 2, 1, 2]})
    mat4py.savemat(osp.join(root, 'setid.mat'),
                   {'trnid': [1, 2], 'valid': [3, 4], 'tstid': [5, 6]})


def write_tiny_cars(root):
    """cars_{train,test}/*.jpg with devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat."""
    for split, annos in (('train', 'cars_train_annos.mat'),
                         ('test', 'cars_test_annos_withlabels.mat')):
        names = [f'{i:05d}.jpg' for i in (1, 2)]
        for i, name in enumerate(names):
            _save_image(osp.join(root, f'cars_{split}', name), 240, 320, i)
        os.makedirs(osp.join(root, 'devkit'), exist_ok=True)
        mat4py.savemat(osp.join(root, 'devkit', annos),
                       {'annotations': {'fname': names, 'class': [1, 196]}})


def write_tiny_inaturalist(root, year):
    """train_val<year>/<super>/<id>/*.jpg with COCO-style train<year>.json / val<year>.json."""
    categories = [dict(id=0, name='Aves 0'), dict(id=1, name='Plantae 1')]
    for split in ('train', 'val'):
        images, annotations = [], []
        for index, category in enumerate(categories):
            file_name = f'train_val{year}/{category["name"].split()[0]}/{category["id"]}/' \
                        f'{split}_{index}.jpg'
            _save_image(osp.join(root, file_name), 280, 250, index)
            images.append(dict(id=index + 10, file_name=file_name))
            annotations.append(dict(id=index, image_id=index + 10, category_id=category['id']))
        with open(osp.join(root, f'{split}{year}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Data root of each dataset, keyed by the name its configs use (data/<name>)."""
    base = tmp_path_factory.mktemp('classification_data')
    roots = {name: str(base / name) for name in INPUT_SIZES}
    write_tiny_imagenet(roots['imagenet'])
    write_tiny_cifar(roots['cifar10'], 'cifar-10-batches-py',
                     [f'data_batch_{i}' for i in range(1, 6)], ['test_batch'], 'labels')
    write_tiny_cifar(roots['cifar100'], 'cifar-100-python', ['train'], ['test'], 'fine_labels')
    write_tiny_flowers(roots['flowers102'])
    write_tiny_cars(roots['stanford_cars'])
    write_tiny_inaturalist(roots['i_naturalist_18'], 2018)
    write_tiny_inaturalist(roots['i_naturalist_19'], 2019)
    return roots


def shallow_arch(name):
    """The arch with one block per level: same widths, grids, rafts and embeddings, less compute."""
    settings = dict(RaftMLP.arch_zoo[name])
    settings['depths'] = [1] * len(settings['depths'])
    return settings


@pytest.fixture(scope='session')
def imagenet_checkpoints(tmp_path_factory):
    """An mmpretrain ImageNet checkpoint per arch (backbone.* and a 1000-class head.fc.*)."""
    folder = tmp_path_factory.mktemp('imagenet_checkpoints')
    paths = {}

    def checkpoint_for(name, full_depth):
        key = f'{name}_{"full" if full_depth else "shallow"}'
        if key not in paths:
            torch.manual_seed(0)
            backbone = RaftMLP(arch=name if full_depth else shallow_arch(name))
            state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
            state['head.fc.weight'] = torch.randn(1000, backbone.num_features)
            state['head.fc.bias'] = torch.randn(1000)
            paths[key] = str(folder / f'{key}.pth')
            torch.save(dict(state_dict=state, meta=dict(epoch=305)), paths[key])
        return paths[key]
    return checkpoint_for


# ------------------------------------------------------------------------ the 32 paper configs
def test_every_paper_experiment_has_its_config():
    found = sorted(osp.relpath(p, CONFIG_DIR) for p in
                   glob.glob(osp.join(CONFIG_DIR, '*.py')) +
                   glob.glob(osp.join(CONFIG_DIR, 'finetune', '*.py')))
    assert found == sorted(IMAGENET_CONFIGS + FINETUNE_CONFIGS)


def _one_train_and_val_step(cfg, work_dir):
    """Run the config's Runner for one training iteration and one validation iteration."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)  # 2 images: 1 iteration
    cfg.default_hooks.checkpoint = None  # nothing to keep from a 1-iteration run
    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    input_shapes = []
    runner.model.backbone.register_forward_pre_hook(
        lambda module, args: input_shapes.append(tuple(args[0].shape)))
    runner.train()
    return runner, input_shapes


def check_config_step(config, full_depth, tiny_data, imagenet_checkpoints, work_dir, monkeypatch):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['raftmlp_mm'], allow_failed_imports=False)
    # The Runner logs the config through yapf (seconds per config); the plain text is enough here.
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))

    # the model as configured, at full size
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    assert model.backbone.arch_settings == RaftMLP.arch_zoo[cfg.model.backbone.arch]
    assert model.head.fc.in_features == model.backbone.num_features
    assert model.head.fc.out_features == cfg.data_preprocessor.num_classes
    del model

    data_name = cfg.train_dataloader.dataset.data_root
    assert data_name.startswith('data/'), 'data roots default to data/<name>'
    data_name = data_name[len('data/'):]
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[name].dataset.data_root == f'data/{data_name}'
        cfg[name].dataset.data_root = tiny_data[data_name]
    # mmpretrain checks the CIFAR pickles' md5 against the official archive's
    from mmpretrain.datasets import CIFAR10
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)

    arch_name = cfg.model.backbone.arch
    if not full_depth:
        cfg.model.backbone.arch = shallow_arch(arch_name)
    checkpoint = None
    if config.startswith('finetune/'):
        assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained  # one variable at the top
        checkpoint = imagenet_checkpoints(arch_name, full_depth)
        cfg.model.backbone.init_cfg.checkpoint = checkpoint

    runner, input_shapes = _one_train_and_val_step(cfg, work_dir)

    height, width = INPUT_SIZES[data_name]
    assert input_shapes == [(2, 3, height, width)] * 2  # one train, one val forward
    assert runner.iter == 1
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    assert 0 <= runner.message_hub.get_scalar('val/accuracy/top1').current() <= 100
    batch_augments = runner.model.data_preprocessor.batch_augments.augments
    assert [type(a) for a in batch_augments] == [SequentialMixupCutMix]
    if checkpoint is not None:  # the backbone starts from the ImageNet weights (lr ~0 at step 1)
        state = torch.load(checkpoint, map_location='cpu')['state_dict']
        for key, value in runner.model.state_dict().items():
            if key.startswith('backbone.'):
                torch.testing.assert_close(value, state[key], atol=1e-5, rtol=0, msg=key)


@pytest.mark.parametrize('config', IMAGENET_CONFIGS + FINETUNE_CONFIGS)
def test_config_takes_a_train_and_a_val_step(config, tiny_data, imagenet_checkpoints, tmp_path,
                                             monkeypatch):
    """Each config's Runner, data and recipe, with one block per level to keep CPU time low."""
    check_config_step(config, False, tiny_data, imagenet_checkpoints, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize('config', IMAGENET_CONFIGS + FINETUNE_CONFIGS)
def test_config_full_model_takes_a_train_and_a_val_step(config, tiny_data, imagenet_checkpoints,
                                                        tmp_path, monkeypatch):
    """The same with the configured full-depth model (all 32: about 70 s on 2 idle cores)."""
    check_config_step(config, True, tiny_data, imagenet_checkpoints, tmp_path, monkeypatch)


def test_converted_original_checkpoint_loads_through_finetune_init_cfg(golden, tmp_path):
    """An original checkpoint, converted, initialises a fine-tuning model; its classifier is not."""
    from mmpretrain.registry import MODELS
    case = golden['tiny-hierarchical-cross-emb']
    arch = arch_from_original_config(case['config'])
    converted = convert_to_mmpretrain(dict(state_dict=case['state_dict']), arch=arch,
                                      img_size=case['image_size'])
    path = str(tmp_path / 'converted.pth')
    torch.save(converted, path)

    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'finetune', 'flowers102_raftmlp_s.py'))
    cfg.model.backbone.update(arch=arch, img_size=case['image_size'],
                              token_expansion=case['token_expansion_factor'],
                              channel_expansion=case['channel_expansion_factor'])
    cfg.model.backbone.init_cfg.checkpoint = path
    cfg.model.head.in_channels = arch['channels'][-1]
    model = MODELS.build(cfg.model)
    model.init_weights()

    state = model.state_dict()
    backbone_keys = [k for k in converted['state_dict'] if k.startswith('backbone.')]
    assert backbone_keys and all(torch.equal(state[k], converted['state_dict'][k])
                                 for k in backbone_keys)
    assert state['head.fc.weight'].shape == (102, arch['channels'][-1])  # a fresh classifier
    # the backbone computes what the original computes before its classifier
    original_logits = case['logits_224']
    features = model.extract_feat(golden['input_224'])
    logits = torch.nn.functional.linear(features[-1], converted['state_dict']['head.fc.weight'],
                                        converted['state_dict']['head.fc.bias'])
    torch.testing.assert_close(logits, original_logits, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------ recipe extras
def test_mixup_then_cutmix_mixes_labels_as_the_original_nested_loss(monkeypatch):
    torch.manual_seed(0)
    np.random.seed(0)
    images = torch.arange(4.).view(4, 1, 1, 1).expand(4, 3, 8, 8).clone()
    labels = torch.eye(4)
    draws = iter([0.7, 0.6])  # Mixup's lambda, then CutMix's
    monkeypatch.setattr(np.random, 'beta', lambda a, b: next(draws))
    perms = iter([torch.tensor([1, 2, 3, 0]), torch.tensor([3, 0, 1, 2])])
    monkeypatch.setattr(torch, 'randperm', lambda n: next(perms))

    mixed, scores = SequentialMixupCutMix()(images, labels)

    p1, p2 = [1, 2, 3, 0], [3, 0, 1, 2]
    mixup_images = 0.7 * images + 0.3 * images[p1]
    side = int(math.sqrt(1 - 0.6) * 8)  # a 5x5 box inside the 8x8 image
    pasted = (mixed[:, 0] == mixup_images[p2][:, 0]) & (mixed[:, 0] != mixup_images[:, 0])
    assert pasted.sum(dim=(1, 2)).tolist() == [side * side] * 4
    # lam_c * [lam_m y + (1 - lam_m) y[p1]] + (1 - lam_c) * [lam_m y[p2] + (1 - lam_m) y[p1][p2]]
    expected = 0.6 * (0.7 * labels + 0.3 * labels[p1]) + \
        0.4 * (0.7 * labels[p2] + 0.3 * labels[p1][p2])
    torch.testing.assert_close(scores, expected)


def test_cutmix_box_always_lies_inside_the_image():
    for lam in np.linspace(0.01, 0.99, 25):
        for _ in range(20):
            top, bottom, left, right = SequentialMixupCutMix().cutmix.rand_bbox((7, 9), lam)
            assert 0 <= top <= bottom <= 7 and 0 <= left <= right <= 9
            assert (bottom - top, right - left) == (int(math.sqrt(1 - lam) * 7),
                                                    int(math.sqrt(1 - lam) * 9))


def test_inaturalist_reads_the_competition_json(tmp_path):
    write_tiny_inaturalist(str(tmp_path), 2019)
    dataset = INaturalist(data_root=str(tmp_path), ann_file='val2019.json')
    assert len(dataset) == 2
    assert dataset.CLASSES == ('Aves 0', 'Plantae 1')
    assert [dataset.get_data_info(i)['gt_label'] for i in range(2)] == [0, 1]
    assert osp.isfile(dataset.get_data_info(1)['img_path'])
    assert '/Plantae/1/' in dataset.get_data_info(1)['img_path']


# ------------------------------------------------------------------------ tools on the demo
# A few iterations of the demo: 64 training images spread over the classes, the first 64 val.
QUICK = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'train_dataloader.dataset.indices=[' + ','.join(str(i * 22) for i in range(64)) + ']',
         'val_dataloader.dataset.indices=64', 'test_dataloader.dataset.indices=64',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
         'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def _val_top1(log_text):
    return [float(v) for v in re.findall(r'Epoch\(val\).*?accuracy/top1: ([\d.]+)', log_text)]


@pytest.mark.slow  # by default: tests/test_resume.py (2 gloo processes = 1 process) and
# tests/test_launchers.py (dist_test.sh, mim test and test.py agree on a checkpoint)
def test_dist_train_two_gloo_processes_then_test_tool(digits, tmp_path):
    work_dir = tmp_path / 'dist'
    run(['bash', 'tools/dist_train.sh', DEMO_CONFIG, '2', '--work-dir', work_dir,
         '--cfg-options', *QUICK], PYTHON=sys.executable)
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    assert re.search(r'Distributed training: True', log)
    assert re.search(r'Epoch\(train\) \[1\]\[1/1\]', log)  # 64 images = 2 ranks x 1 batch of 32
    [val_top1] = _val_top1(log)

    checkpoint = work_dir / 'epoch_1.pth'
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    cfg = Config.fromfile(osp.join(REPO_ROOT, DEMO_CONFIG))
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)

    result = python_tool('tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir',
                         tmp_path / 'test', '--cfg-options', *QUICK)
    test_top1 = float(re.search(r"'accuracy/top1': ([\d.]+)", result.stdout).group(1))
    # the same weights on the same 64 images: at most one image may flip on a near tie
    assert abs(test_top1 - val_top1) <= 100 / 64 + 1e-3


def test_wandb_offline_run_records_metrics(digits, tmp_path):
    work_dir = tmp_path / 'wandb_run'
    python_tool('tools/train.py', DEMO_CONFIG, '--wandb', '--work-dir', work_dir,
                '--cfg-options', *QUICK, WANDB_MODE='offline')
    runs = glob.glob(str(work_dir / '*' / 'vis_data' / 'wandb' / 'offline-run-*'))
    assert len(runs) == 1
    [records] = glob.glob(osp.join(runs[0], 'run-*.wandb'))
    data = open(records, 'rb').read()
    assert b'accuracy/top1' in data and b'data_time' in data  # val and train scalars logged


@pytest.mark.slow
def test_demo_learns_the_digits(digits, tmp_path):
    """The demo as `make demo-cls` runs it: full schedule, then top-1 on the held-out digits."""
    work_dir = tmp_path / 'demo'
    python_tool('tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, timeout=1800)
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    top1 = _val_top1(log)[-1]
    assert top1 > 80, f'demo reached only {top1}% top-1 (chance is 10%)'
    last_checkpoint = open(work_dir / 'last_checkpoint').read().strip()
    result = python_tool('tools/test.py', DEMO_CONFIG, last_checkpoint,
                         '--work-dir', tmp_path / 'test')
    test_top1 = float(re.search(r"'accuracy/top1': ([\d.]+)", result.stdout).group(1))
    assert abs(test_top1 - top1) < 1e-3  # the held-out top-1 the last checkpoint reports
