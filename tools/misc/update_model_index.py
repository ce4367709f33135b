"""Write the model index: configs/{classification,detection,segmentation}/metafile.yml.

    python tools/misc/update_model_index.py [--check]

Every config under configs/ (not _base_) gets one entry (OpenMMLab's metafile format, read by
`mim search raftmlp_mm` through model-index.yml and by mmpretrain's ModelHub through
raftmlp_mm/model_index.py). Parameters and FLOPs are measured, not typed: each config's model is
built from its host's registry and counted with raftmlp_mm.utils (the counters behind
tools/analysis_tools/get_flops.py). FLOPs are multiply-accumulates (the paper's and OpenMMLab's
convention): of the whole classifier for classification, of the backbone for detection and
segmentation (whose necks and heads are mmdet's and mmseg's own). Published numbers come from
PUBLISHED below, the only place they are written; every other config says it has none.
No weights are published for any config, so no entry has a Weights URL.

--check compares instead of writing and exits 1 when a metafile is out of date.
"""
import argparse
import glob
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

PAPER = {
    'Title': 'RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?',
    'URL': 'https://arxiv.org/abs/2108.04384',
}
# arXiv 2108.04384v1 ("RaftMLP: Do MLP-based Models Dream of Winning Over Computer Vision?") is
# the only version whose numbers are public. Its RaftMLP-12 is our `raft-r4`; its RaftMLP-36
# (76.9) has no arch here; its Mixer-B/16 row is MLP-Mixer's own number, cited.
SOURCE_V1 = 'arXiv 2108.04384v1'
PUBLISHED = {
    'configs/classification/raftmlp_r4_8xb256_in1k.py': dict(
        metrics={'Top 1 Accuracy': 78.0},
        note=f'78.0 top-1 as RaftMLP-12, {SOURCE_V1}'),
    'configs/classification/org_mixer_8xb256_in1k.py': dict(
        metrics={'Top 1 Accuracy': 76.4},
        note=f'76.4 (Mixer-B/16) as cited, {SOURCE_V1}'),
}
NO_RESULT = 'none: no published result for this config'
NO_WEIGHTS = 'none published (use a local checkpoint path)'

TASK_DIRS = ('classification', 'detection', 'segmentation')
FINETUNE_DATA = {'cifar10': 'CIFAR-10', 'cifar100': 'CIFAR-100', 'flowers102': 'Flowers-102',
                 'cars': 'Stanford Cars', 'inat18': 'iNaturalist 2018',
                 'inat19': 'iNaturalist 2019'}
DIGITS = 'digits (scikit-learn, built in)'
ARCH_NAMES = {'small': 'RaftMLP-S', 'medium': 'RaftMLP-M', 'large': 'RaftMLP-L',
              'hierarchy-medium': 'RaftMLP-M with a plain patch embedding',
              'org-mixer': 'MLP-Mixer-B/16', 'raft-r1': 'RaftMLP raft r=1',
              'raft-r2': 'RaftMLP raft r=2', 'raft-r4': 'RaftMLP raft r=4 (RaftMLP-12)'}

COLLECTIONS = {
    'classification': [dict(
        Name='RaftMLP',
        Metadata={'Training Data': 'ImageNet-1k',
                  'Architecture': ['RaftMLP', 'Raft-token-mixing MLP',
                                   'Multi-scale patch embedding', 'Layer Normalization', 'GELU']},
        Paper=PAPER, README='docs/classification.md')],
    'detection': [
        dict(Name='Mask R-CNN (RaftMLP)',
             Metadata={'Training Data': 'COCO',
                       'Architecture': ['RaftMLP', 'FPN', 'RPN', 'RoIAlign', 'Mask R-CNN']},
             Paper=PAPER, README='docs/detection.md'),
        dict(Name='RetinaNet (RaftMLP)',
             Metadata={'Training Data': 'COCO',
                       'Architecture': ['RaftMLP', 'FPN', 'Focal Loss', 'RetinaNet']},
             Paper=PAPER, README='docs/detection.md')],
    'segmentation': [dict(
        Name='Semantic FPN (RaftMLP)',
        Metadata={'Training Data': 'ADE20K', 'Architecture': ['RaftMLP', 'FPN', 'Semantic FPN']},
        Paper=PAPER, README='docs/segmentation.md')],
}
HEADER = """\
# The {task} configs in OpenMMLab's metafile format, one entry per config.
# Written by tools/misc/update_model_index.py, which builds every model and counts it; edit that
# script (or the config) and re-run it rather than this file.
# FLOPs are multiply-accumulates {flops_scope}.
# Parameters are the whole model's.
# Results hold the paper's number where one is published (source in Metadata "Published
# Result"), and an empty Metrics otherwise. No weights are published: Weights is null.
"""


def list_configs(task=None):
    """Configs of one task (or all), repo-relative, _base_ folders excluded."""
    tasks = [task] if task else TASK_DIRS
    paths = []
    for t in tasks:
        for path in sorted(glob.glob(osp.join(ROOT, 'configs', t, '**', '*.py'), recursive=True)):
            rel = osp.relpath(path, ROOT).replace(osp.sep, '/')
            if '_base_' not in rel.split('/'):
                paths.append(rel)
    return paths


def model_name(config: str) -> str:
    """The index name: the config's name, with classification names led by `raftmlp` so that
    ``mmpretrain.list_models('raftmlp*')`` finds them all."""
    stem = osp.splitext(osp.basename(config))[0]
    parts = config.split('/')
    if parts[1] != 'classification' or stem.startswith('raftmlp'):
        return stem
    if parts[2] == 'finetune':  # cars_raftmlp_s -> raftmlp_s_in1k-pre_cars
        data, model = stem.split('_', 1)
        model = model if model.startswith('raftmlp') else f'raftmlp_{model}'
        return f'{model}_in1k-pre_{data}'
    return f'raftmlp_{stem}'


def input_size(cfg, task):
    """(H, W) the config feeds its model at test time (FLOPs are counted there)."""
    if task == 'segmentation':
        return tuple(cfg.crop_size)
    for step in reversed(cfg.test_dataloader.dataset.pipeline):
        if step['type'] == 'CenterCrop':
            size = step['crop_size']
            return (size, size) if isinstance(size, int) else (size[1], size[0])
        if step['type'] == 'Resize':
            scale = step['scale']
            return (scale, scale) if isinstance(scale, int) else (scale[1], scale[0])
    raise ValueError(f'no input size in the test pipeline of {cfg.filename}')


def build_model(cfg):
    from mmengine.registry import DefaultScope
    scope = cfg.default_scope
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    elif scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model)


def describe(config: str) -> dict:
    """One metafile entry, measured from the config."""
    from mmengine.config import Config

    from raftmlp_mm.utils import count_linear_macs, count_parameters

    cfg = Config.fromfile(osp.join(ROOT, config))
    task = config.split('/')[1]
    stem = osp.splitext(osp.basename(config))[0]
    demo = '/demo/' in config
    model = build_model(cfg)
    arch = cfg.model.backbone.arch
    h, w = input_size(cfg, task)
    if task == 'classification':
        macs = count_linear_macs(model, (h, w))
        counted = f'classifier at 1x3x{h}x{w}'
    else:
        macs = count_linear_macs(model.backbone, (h, w))
        counted = f'backbone at 1x3x{h}x{w}'
    gpus = 1 if demo else 8
    meta = {
        'Task': None,
        'Arch': arch,
        'Training Data': None,
        'Parameters': count_parameters(model),
        'FLOPs': int(macs),
        'FLOPs Counted': counted,
        'Batch Size': gpus * cfg.train_dataloader.batch_size,
    }
    if 'max_epochs' in cfg.train_cfg:
        meta['Epochs'] = cfg.train_cfg.max_epochs
    else:
        meta['Iterations'] = cfg.train_cfg.max_iters
    if task == 'classification':
        if demo:
            data, collection = DIGITS, 'RaftMLP'
        elif config.split('/')[2] == 'finetune':
            data, collection = FINETUNE_DATA[stem.split('_', 1)[0]], 'RaftMLP'
        else:
            data, collection = 'ImageNet-1k', 'RaftMLP'
        tasks = ['Image Classification']
        training = data if data in ('ImageNet-1k', DIGITS) else ['ImageNet-1k', data]
        readme = 'docs/classification.md'
    elif task == 'detection':
        data = DIGITS if demo else 'COCO'
        mask = stem.startswith('maskrcnn')
        collection = 'Mask R-CNN (RaftMLP)' if mask else 'RetinaNet (RaftMLP)'
        tasks = ['Object Detection', 'Instance Segmentation'] if mask else ['Object Detection']
        training = data if demo else ['ImageNet-1k', data]
        readme = 'docs/detection.md'
    else:
        data = DIGITS if demo else 'ADE20K'
        collection = 'Semantic FPN (RaftMLP)'
        tasks = ['Semantic Segmentation']
        training = data if demo else ['ImageNet-1k', data]
        readme = 'docs/segmentation.md'
    published = PUBLISHED.get(config)
    meta['Task'] = tasks if len(tasks) > 1 else tasks[0]
    meta['Training Data'] = training
    meta['Published Result'] = published['note'] if published else NO_RESULT
    meta['Checkpoint'] = NO_WEIGHTS
    results = [dict(Task=t, Dataset=data, Metrics=dict(published['metrics']) if published else {})
               for t in tasks]
    return {
        'Name': model_name(config),
        'In Collection': collection,
        'Metadata': meta,
        'Results': results,
        'Weights': None,
        'Config': config,
        'README': readme,
        'Description': description(config, arch, data),
    }


def description(config: str, arch: str, data: str) -> str:
    arch = ARCH_NAMES.get(arch, arch)
    kind = config.split('/')[1]
    if kind == 'classification':
        if '/finetune/' in config:
            return f'{arch} fine-tuned on {data} from ImageNet-1k'
        return f'{arch} trained from scratch on {data}'
    stem = osp.basename(config)
    head = ('Mask R-CNN + FPN' if stem.startswith('maskrcnn') else
            'RetinaNet + FPN' if stem.startswith('retinanet') else 'Semantic FPN')
    schedule = '' if '/demo/' in config else (', 1x schedule' if kind == 'detection' else
                                              ', 40k iterations')
    return f'{head}, {arch} backbone, {data}{schedule}'


def render(task: str, entries) -> str:
    import yaml
    scope = ('of the whole classifier' if task == 'classification' else
             "of the backbone only (neck and heads are the host's)")

    class Dumper(yaml.SafeDumper):  # every collection spells its paper out (no &id001 / *id001)
        def ignore_aliases(self, data):
            return True

    body = yaml.dump({'Collections': COLLECTIONS[task], 'Models': list(entries)}, Dumper=Dumper,
                     sort_keys=False, allow_unicode=True, width=100)
    return HEADER.format(task=task, flops_scope=scope) + '\n' + body


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='compare with the metafiles on disk instead of writing them')
    args = parser.parse_args(argv)
    stale = []
    for task in TASK_DIRS:
        text = render(task, (describe(c) for c in list_configs(task)))
        path = osp.join(ROOT, 'configs', task, 'metafile.yml')
        current = open(path).read() if osp.exists(path) else None
        if args.check:
            if current != text:
                stale.append(path)
        elif current != text:
            with open(path, 'w') as f:
                f.write(text)
            print('wrote', osp.relpath(path, ROOT))
        else:
            print('up to date:', osp.relpath(path, ROOT))
    if stale:
        print('out of date (run python tools/misc/update_model_index.py):', *stale, sep='\n  ')
        return 1
    if args.check:
        print('metafiles are up to date')
    return 0


if __name__ == '__main__':
    sys.exit(main())
