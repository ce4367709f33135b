"""tools/analysis_tools/benchmark.py runs end to end and reports what it says it reports.

Only that the tables are complete and consistent is asserted: speed itself is measured with the
tool (docs/benchmarks.md), never asserted here.
"""
import json
import re

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
