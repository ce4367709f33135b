"""tools/analysis_tools/benchmark.py runs end to end and reports what it says it reports.

Only that the tables are complete and consistent is asserted: speed itself is measured with the
tool (docs/benchmarks.md), never asserted here.
"""
import json
import re

import pytest

from .utils import python_tool


def table_rows(output: str, setting: str) -> dict:
    """{model: [cells]} of the markdown table printed for ``setting``."""
    section = output.split(f'### {setting}:')[1].split('###')[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('|') and cells[0] not in ('model', '') and not cells[0].startswith('-'):
            rows[cells[0]] = cells[1:]
    return rows


def test_benchmark_table_with_memory_and_onnxruntime(tmp_path):
    result_file = tmp_path / 'rows.json'
    out = python_tool('tools/analysis_tools/benchmark.py', '--models', 'small', '--settings',
                      'cls-infer', '--batch', '1', '--repeats', '2', '--warmup', '1',
                      '--threads', '1', '--memory', '--onnxruntime', '--json', str(result_file),
                      '--plot', str(tmp_path / 'plot.png')).stdout
    rows = table_rows(out, 'cls-infer')
    assert set(rows) == {'small', 'resnet50'}  # the baseline is always measured
    params, gmacs, latency, throughput, ratio, peak, ort = (float(c) for c in rows['small'])
    assert abs(params - 9.9) < 0.05 and abs(gmacs - 2.09) < 0.005  # the paper's S, with head
    assert abs(float(rows['resnet50'][1]) - 4.1) < 0.1
    assert float(rows['resnet50'][4]) == 1.0
    assert abs(throughput - 1e3 / latency) / throughput < 0.02
    assert abs(ratio - latency / float(rows['resnet50'][2])) < 0.01
    assert peak > 0 and ort > 0
    saved = json.loads(result_file.read_text())['cls-infer']
    assert [r['model'] for r in saved] == ['resnet50', 'small']
    assert (tmp_path / 'plot.png').stat().st_size > 0


def test_flops_only_reproduces_the_arch_table():
    out = python_tool('tools/analysis_tools/benchmark.py', '--flops-only', '--models', 'small',
                      'medium', 'large', 'org-mixer').stdout
    macs = dict(re.findall(r'^\| (\S+) \| [\d.]+ \| ([\d.]+) \|$', out, re.M))
    assert macs == {'small': '2.09', 'medium': '4.27', 'large': '6.54', 'org-mixer': '12.63'}


def test_mlp_kernels_side_by_side(tmp_path):
    result_file = tmp_path / 'rows.json'
    out = python_tool('tools/analysis_tools/benchmark.py', '--models', 'small', '--settings',
                      'cls-infer', '--batch', '1', '--repeats', '1', '--warmup', '1',
                      '--threads', '1', '--mlp-kernels', 'plain', 'onednn', 'auto',
                      '--json', str(result_file)).stdout
    # what the fastest kernel depends on is printed with the numbers
    assert re.search(r'^cpu: .+; ISA: (AVX-512|AVX2|AVX|SSE only|unknown)', out, re.M)
    assert re.search(r'^math: .*(oneDNN|no oneDNN)', out, re.M)
    rows = table_rows(out, 'cls-infer')
    assert set(rows) == {'resnet50', 'small [plain]', 'small [onednn]', 'small [auto]'}
    base = float(rows['resnet50'][2])
    for kernels in ('plain', 'onednn', 'auto'):
        params, gmacs, latency, throughput, ratio = (float(c) for c in rows[f'small [{kernels}]'])
        assert abs(params - 9.9) < 0.05 and abs(gmacs - 2.09) < 0.005  # the same model
        assert abs(ratio - latency / base) < 0.01
    saved = {r['model']: r for r in json.loads(result_file.read_text())['cls-infer']}
    assert saved['small [auto]']['mlp_kernels'] == 'auto'
    assert saved['small [auto]']['arch'] == 'small'
    # the auto mode's decisions: every linear shape of RaftMLP-S met at batch 1, forward only
    decisions = out.split('### MLP kernels chosen by the auto mode')[1]
    chosen = re.findall(r'^\| (\d+) \| (\d+) \| (\d+) \| forward \| 1 \| [\d.]+ \| [\d.]+ \| '
                        r'(F\.linear|oneDNN) \|$', decisions, re.M)
    shapes = {(int(i), int(o)) for i, o, _, _ in chosen}
    assert {(64, 256), (256, 64), (512, 2048), (2048, 512)} <= shapes  # channel MLPs
    assert {(112, 224), (224, 112), (14, 28), (28, 14)} <= shapes  # token MLPs, r = 2


def test_resampling_report_counts_every_resampling_of_the_backbone():
    out = python_tool('tools/analysis_tools/benchmark.py', '--models', 'small', '--settings',
                      'seg-backbone', '--batch', '1', '--repeats', '1', '--warmup', '0',
                      '--threads', '1', '--resampling').stdout
    section = out.split('### bicubic resampling inside the backbone: seg-backbone,')[1]
    [row] = [line for line in section.splitlines() if line.startswith('| small |')]
    calls, backbone, resampling, share, as_interpolate = row.strip('| \n').split(' | ')[1:]
    # at 512x512 the token grids are 128/64/32/16 rows against RaftMLP-S's 56/28/14/7: each of
    # its 12 blocks resamples to its grid and back; 512 is a multiple of every patch
    assert int(calls) == 24
    assert 0 < float(resampling) < float(backbone) and float(as_interpolate) > 0
    assert abs(float(share.rstrip('%')) - 100 * float(resampling) / float(backbone)) < 0.2


def share_rows(output: str, setting: str) -> dict:
    """{model: {column: cell}} of the where-the-time-goes table printed for ``setting``."""
    section = output.split(f'### where the time goes, {setting}:')[1].split('###')[0]
    lines = [line for line in section.splitlines() if line.startswith('|')]
    titles = [c.strip() for c in lines[0].strip('|').split('|')]
    return {cells[0]: dict(zip(titles, cells)) for cells in (
        [c.strip() for c in line.strip('|').split('|')] for line in lines[2:])}


def test_whole_models_against_the_hosts_own_r50_with_the_share_of_each_part(tmp_path):
    result_file = tmp_path / 'rows.json'
    out = python_tool('tools/analysis_tools/benchmark.py', '--settings', 'retinanet-train',
                      'semfpn-infer', '--models', 'small', 'resnet50', '--size', '128', '128',
                      '--batch', '1', '--repeats', '1', '--warmup', '0', '--threads', '1',
                      '--memory', '--json', str(result_file)).stdout
    assert 'note: --memory not applied to the whole-model setting retinanet-train' in out
    saved = json.loads(result_file.read_text())
    for setting, train in (('retinanet-train', True), ('semfpn-infer', False)):
        rows = table_rows(out, setting)
        assert set(rows) == {'small', 'resnet50'}  # swin-t etc. have no configs here
        latency = {name: float(cells[2]) for name, cells in rows.items()}
        assert min(latency.values()) > 0 and float(rows['resnet50'][4]) == 1.0
        assert abs(float(rows['small'][4]) - latency['small'] / latency['resnet50']) < 0.01
        parts = ['backbone %', 'neck %', 'heads %'] + (['optimizer %', 'other %'] if train else [])
        for name, cells in share_rows(out, setting).items():
            shares = [float(cells[p]) for p in parts]
            assert abs(sum(shares) - 100) < 0.3, (setting, name, cells)
            assert min(shares[:3]) > 0 and (not train or shares[3] > 0), (setting, name, cells)
            if train:  # the backward reached every part: the split has both halves
                for p in ('backbone', 'neck', 'heads'):
                    forward, backward = cells[f'{p} fwd / bwd %'].split(' / ')
                    assert float(forward) > 0 and float(backward) > 0, (setting, name, cells)
            # the parts cover the timed unit of work (the same single call here)
            assert 0.95 * latency[name] < float(cells['sum of parts (ms)']) <= latency[name]
        built = {r['model']: r['structure'] for r in saved[setting]}
        ours, peer = built['small'], built['resnet50']
        assert (ours['backbone'], ours['backbone_variant']) == ('RaftMLP', 'small')
        assert peer['backbone_variant'] == 50  # the host's R-50, same detector around it
        assert (peer['detector'], peer['neck'], peer['heads']) == \
            (ours['detector'], ours['neck'], ours['heads'])
    retinanet = {r['model']: r['structure'] for r in saved['retinanet-train']}
    assert retinanet['small']['config'] == 'configs/detection/retinanet_raftmlp_s_fpn_1x_coco.py'
    assert retinanet['resnet50']['config'] == 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
    assert retinanet['resnet50']['backbone'] == 'ResNet'
    assert retinanet['small']['heads'] == ['RetinaHead']
    semfpn = {r['model']: r['structure'] for r in saved['semfpn-infer']}
    assert semfpn['small']['config'] == 'configs/segmentation/fpn_raftmlp_s_512x512_40k_ade20k.py'
    assert semfpn['resnet50']['config'] == 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
    assert semfpn['resnet50']['backbone'] == 'ResNetV1c'  # mmseg's R-50 is the V1c stem
    assert semfpn['small']['heads'] == ['FPNHead']


@pytest.mark.slow
def test_maskrcnn_training_step_trains_the_mask_head_on_the_stated_rois(tmp_path):
    result_file = tmp_path / 'rows.json'
    out = python_tool('tools/analysis_tools/benchmark.py', '--settings', 'maskrcnn-train',
                      '--models', 'small', 'resnet50', '--size', '128', '128', '--batch', '1',
                      '--repeats', '1', '--warmup', '0', '--threads', '1',
                      '--json', str(result_file)).stdout
    shares = share_rows(out, 'maskrcnn-train')
    assert set(shares) == {'small', 'resnet50'}
    for cells in shares.values():
        # 8 objects x (4 jittered proposals + the box itself), plus whatever the RPN hit
        assert int(cells['mask RoIs / image']) >= 40
    built = {r['model']: r['structure'] for r in json.loads(result_file.read_text())
             ['maskrcnn-train']}
    assert built['resnet50']['config'] == 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
    assert (built['resnet50']['backbone'], built['resnet50']['backbone_variant']) == \
        ('ResNet', 50)
    assert built['small']['heads'] == built['resnet50']['heads'] == \
        ['RPNHead', 'StandardRoIHead(Shared2FCBBoxHead, FCNMaskHead)']
    assert all(r['last_loss'] > 0 for r in json.loads(result_file.read_text())['maskrcnn-train'])
