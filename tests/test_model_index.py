"""The model index: model-index.yml and the three metafiles cover every config exactly once,
their parameter counts are a built model's, `mim search raftmlp_mm` reads them, and mmpretrain's
ModelHub lists, builds and runs the classification models."""
import functools
import glob
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import yaml
from mmengine.registry import DefaultScope

from .conftest import REPO_ROOT
from .utils import load_tool

TASKS = ('classification', 'detection', 'segmentation')
DIGITS_MODEL = 'raftmlp_s_digits'
NO_RESULT = 'none: no published result for this config'
# the only published numbers (arXiv 2108.04384v1): RaftMLP-12 = raft-r4, Mixer-B/16 as cited
PUBLISHED = {'configs/classification/raftmlp_r4_8xb256_in1k.py': 78.0,
             'configs/classification/org_mixer_8xb256_in1k.py': 76.4}


def configs_on_disk(task=None):
    found = []
    for t in (task, ) if task else TASKS:
        for path in glob.glob(osp.join(REPO_ROOT, 'configs', t, '**', '*.py'), recursive=True):
            rel = osp.relpath(path, REPO_ROOT).replace(osp.sep, '/')
            if '_base_' not in rel.split('/'):
                found.append(rel)
    return sorted(found)


@functools.lru_cache()
def metafile(task):
    with open(osp.join(REPO_ROOT, 'configs', task, 'metafile.yml')) as f:
        return yaml.safe_load(f)


def all_models():
    return [(task, model) for task in TASKS for model in metafile(task)['Models']]


def test_model_index_imports_the_three_metafiles():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert index == {'Import': [f'configs/{task}/metafile.yml' for task in TASKS]}


def test_every_config_is_in_exactly_one_metafile_and_every_entry_is_a_config():
    listed = [model['Config'] for _, model in all_models()]
    duplicates = sorted({c for c in listed if listed.count(c) > 1})
    assert not duplicates, f'configs listed more than once: {duplicates}'
    missing = sorted(set(configs_on_disk()) - set(listed))
    assert not missing, ('configs without a metafile entry (run python '
                         f'tools/misc/update_model_index.py): {missing}')
    assert not set(listed) - set(configs_on_disk()), 'metafile entries without a config'
    for task in TASKS:  # each in its own task's metafile
        assert sorted(m['Config'] for m in metafile(task)['Models']) == configs_on_disk(task)
    names = [model['Name'] for _, model in all_models()]
    assert len(set(names)) == len(names)


def test_entries_state_task_arch_data_counts_and_published_results():
    for task, model in all_models():
        meta, config = model['Metadata'], model['Config']
        tasks = [r['Task'] for r in model['Results']]
        assert tasks and meta['Task'] in (tasks[0], tasks), config
        assert {'Image Classification': 'classification', 'Object Detection': 'detection',
                'Semantic Segmentation': 'segmentation'}[tasks[0]] == task
        assert meta['Training Data'] and meta['FLOPs Counted'], config
        assert isinstance(meta['Parameters'], int) and isinstance(meta['FLOPs'], int)
        assert model['Weights'] is None and meta['Checkpoint'].startswith('none published')
        assert model['In Collection'] in {c['Name'] for c in metafile(task)['Collections']}
        if config in PUBLISHED:
            assert [r['Metrics'] for r in model['Results']] == [
                {'Top 1 Accuracy': PUBLISHED[config]}]
            assert 'arXiv 2108.04384v1' in meta['Published Result']
            assert str(PUBLISHED[config]) in meta['Published Result']
        else:
            assert meta['Published Result'] == NO_RESULT, config
            assert all(r['Metrics'] == {} for r in model['Results']), config


def build(task, model):
    """A fresh model: through mmpretrain's get_model (by its index name) for classification,
    from the host's registry for detection and segmentation."""
    if task == 'classification':
        from mmpretrain import get_model

        import raftmlp_mm  # noqa: F401  (registers the index with mmpretrain's ModelHub)
        return get_model(model['Name'])
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, model['Config']))
    return load_tool('tools/misc/update_model_index.py').build_model(cfg)


@pytest.mark.parametrize('task,model', all_models(), ids=lambda x: x if isinstance(x, str)
                         else x['Name'])
def test_parameters_and_arch_are_those_of_a_freshly_built_model(task, model):
    built = build(task, model)
    assert sum(p.numel() for p in built.parameters()) == model['Metadata']['Parameters']
    assert built.backbone.arch_name == model['Metadata']['Arch']


@pytest.mark.parametrize('name,gmacs', [('raftmlp_s_8xb256_in1k', '2.09'),
                                        ('raftmlp_r4_8xb256_in1k', '12.02')])
def test_flops_are_measured_and_match_the_readme_table(name, gmacs):
    from mmpretrain import get_model

    import raftmlp_mm  # noqa: F401
    from raftmlp_mm.utils import count_linear_macs
    entry = next(m for m in metafile('classification')['Models'] if m['Name'] == name)
    macs = entry['Metadata']['FLOPs']
    assert macs == count_linear_macs(get_model(name), (224, 224))
    assert f'{macs / 1e9:.2f}' == gmacs


def test_mim_search_lists_every_entry(tmp_path):
    mim = osp.join(osp.dirname(sys.executable), 'mim')

    def search(*args):
        result = subprocess.run([mim, 'search', 'raftmlp_mm', *args], cwd=str(tmp_path),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (
            'mim search failed (installed before the model index existed? run make install):\n'
            f'{result.stdout[-2000:]}\n{result.stderr[-3000:]}')
        return result.stdout

    listed = set(re.findall(r"'([^']+)'", search('--valid-config')))
    assert listed == {model['Name'] for _, model in all_models()}
    search('--json', str(tmp_path / 'index.json'))  # every field, untruncated
    with open(tmp_path / 'index.json') as f:
        columns = json.load(f)
    for _, model in all_models():
        name, meta = model['Name'], model['Metadata']
        assert columns['config'][name] == model['Config']
        assert columns['parameters'][name] == meta['Parameters']
        assert columns['flops'][name] == meta['FLOPs']
        assert columns['arch'][name] == meta['Arch'].lower()
        tasks = meta['Task'] if isinstance(meta['Task'], list) else [meta['Task']]
        assert columns['task'][name] == ','.join(tasks).lower()
        assert columns['published_result'][name] == meta['Published Result'].lower()
    published = {name for name, value in columns['imagenet-1k/top_1_accuracy'].items()
                 if value is not None}
    assert published == {'raftmlp_r4_8xb256_in1k', 'raftmlp_org_mixer_8xb256_in1k'}
    assert columns['imagenet-1k/top_1_accuracy']['raftmlp_r4_8xb256_in1k'] == 78.0


def test_mmpretrain_lists_every_classification_model():
    from mmpretrain import list_models

    import raftmlp_mm  # noqa: F401
    names = sorted(m['Name'] for m in metafile('classification')['Models'])
    assert list_models('raftmlp*') == names
    assert list_models('raftmlp', task='Image Classification') == names
    assert all(name.startswith('raftmlp') for name in names)


def test_get_model_and_inference_model_with_a_local_checkpoint(tmp_path, digits):
    from mmpretrain import get_model, inference_model

    import raftmlp_mm  # noqa: F401
    from raftmlp_mm.datasets import DIGIT_CLASSES

    model = get_model(DIGITS_MODEL)  # no weights published: built with random weights
    assert type(model.backbone).__name__ == 'RaftMLP' and model.backbone.img_size == (32, 32)
    checkpoint = str(tmp_path / 'digits_random.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': list(DIGIT_CLASSES)}}}, checkpoint)

    loaded = get_model(DIGITS_MODEL, pretrained=checkpoint)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    image = sorted(glob.glob(osp.join(digits, 'val', '*', '*.png')))[0]
    # the scope a fresh process has (earlier tests leave another one current)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        result = inference_model(loaded, image)
    assert result['pred_class'] in DIGIT_CLASSES
    assert 0 <= result['pred_label'] < 10 and len(result['pred_scores']) == 10
    assert result['pred_class'] == DIGIT_CLASSES[result['pred_label']]
    # by name too: mmpretrain builds it itself (random weights, with a warning)
    with pytest.warns(UserWarning, match='checkpoint of the model'), \
            DefaultScope.overwrite_default_scope('mmpretrain'):
        by_name = inference_model(DIGITS_MODEL, image)
    assert 0 <= by_name['pred_label'] < 10
