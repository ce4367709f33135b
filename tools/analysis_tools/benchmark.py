"""Speed and memory of RaftMLP against its peers, measured side by side in one run.

    python tools/analysis_tools/benchmark.py                      # the default settings, CPU
    python tools/analysis_tools/benchmark.py --settings cls-infer --models small resnet50
    python tools/analysis_tools/benchmark.py --device cuda --bf16 --channels-last
    python tools/analysis_tools/benchmark.py --flops-only --input-size 800 1216
    python tools/analysis_tools/benchmark.py --settings train-step --models small resnet50 \
        --mlp-kernels plain onednn auto       # the MLPs' kernels side by side
    python tools/analysis_tools/benchmark.py --settings maskrcnn-train semfpn-infer \
        --models small resnet50              # whole models, with where their time goes

Every table row gives params, MACs, the median latency over ``--repeats`` rounds after warm-up,
throughput, the ratio of the latency to ResNet-50's and, on request, peak memory and the
onnxruntime latency of the same model exported to ONNX. The models are timed
round-robin inside each round (ResNet-50 in every round), so drift of the machine's speed hits
all rows alike. Peak memory is measured for each model in a fresh subprocess after one warm-up
unit of work: on CPU the rise of the peak RSS (VmHWM) over the resting process (model, optimizer
state and libraries resident), on CUDA the rise of ``torch.cuda.max_memory_allocated``.

Settings (batch sizes are for CPU; ``--device cuda`` uses the GPU ones; ``--size H W`` overrides
the input size of any setting). Run by default:
  cls-infer        classifier forward, batch 8 / 64, 224x224
  train-step       classifier forward + cross-entropy + backward + AdamW step, batch 8 / 64, 224x224
  det-backbone     backbone forward, every level, batch 1 / 2, 800x1216 (Mask R-CNN's input)
  seg-backbone     backbone forward, every level, batch 2 / 16, 512x512 (Semantic FPN's input)
Whole models, run when named in ``--settings`` (RaftMLP S/M/L/org-mixer and ResNet-50 only):
  maskrcnn-train   Mask R-CNN + FPN training step, batch 1 / 2, 800x1216
  maskrcnn-infer   Mask R-CNN + FPN predict (post-processing included), batch 1 / 2, 800x1216
  retinanet-train  RetinaNet + FPN training step, batch 1 / 2, 800x1216
  retinanet-infer  RetinaNet + FPN predict, batch 1 / 2, 800x1216
  semfpn-train     Semantic FPN training step, batch 4 / 4, 512x512, 150 classes
  semfpn-infer     Semantic FPN predict, batch 4 / 4, 512x512
RaftMLP MACs follow the paper (every linear and patch embedding); peers' MACs come from
MMEngine's FlopAnalyzer (convolutions, matmuls and linears).

The whole models (whole_models.py beside this file) are built from the RaftMLP rows' configs in
configs/detection and configs/segmentation, and for ResNet-50 from mmdet's and mmseg's own R-50
configs in the installed packages, with random weights. A training step is ``model.loss`` on a
synthetic batch (8 ground-truth objects per image, or random 150-class maps), the summed losses'
backward and the step of each config's own optimizer (AdamW for ours, SGD for the R-50 recipes), at
its first iteration's learning rate; Mask R-CNN's mask head trains on at least 40 positive RoIs per
image (proposals near the objects stand in for a trained RPN's; the table prints the count). A
second table per whole-model setting gives where the time goes: the backbone, the neck and the
heads (forward + backward), the optimizer step and the rest, as shares of the median time of each
part (how the parts are timed: whole_models.py). Their MACs are not counted (``nan``);
``--memory``, ``--onnxruntime``, ``--compile``, ``--channels-last`` and ``--bf16`` do not apply to
them (a note says so: they run eager, in NCHW and fp32, without those columns; mmcv's CPU NMS takes
no bfloat16).

``--mlp-kernels`` times every RaftMLP model once per setting of its MLPs' CPU fast path
(raftmlp_mm/models/fast_mlp.py; RAFTMLP_FAST_MLP): ``plain`` (0: nn.Linear), ``onednn`` (1: the
fast path with oneDNN kernels) and ``auto`` (the fast path with the kernel measured faster per
shape), as rows ``small [plain]`` etc. in the same interleaved rounds, and prints the auto mode's
decisions. The header names the CPU, its vector ISA (AVX2 / AVX-512, from /proc/cpuinfo) and
the oneDNN / MKL builds, on which the fastest kernel depends.
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

TOOL_DIR = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(TOOL_DIR)))
sys.path.insert(0, TOOL_DIR)  # whole_models.py, when run in-process

import whole_models  # noqa: E402

from raftmlp_mm.models import RaftMLP, fast_mlp  # noqa: E402
from raftmlp_mm.utils import count_linear_macs, count_parameters  # noqa: E402

BASELINE = 'resnet50'
# name: (backbone config, its last-level channels, whether it takes any input size)
MODELS: Dict[str, tuple] = {
    'small': (dict(type='raftmlp_mm.RaftMLP', arch='small'), 512, True),
    'medium': (dict(type='raftmlp_mm.RaftMLP', arch='medium'), 768, True),
    'large': (dict(type='raftmlp_mm.RaftMLP', arch='large'), 1024, True),
    'org-mixer': (dict(type='raftmlp_mm.RaftMLP', arch='org-mixer'), 768, True),
    'resnet50': (dict(type='ResNet', depth=50), 2048, True),
    'swin-t': (dict(type='SwinTransformer', arch='tiny'), 768, True),
    'convnext-t': (dict(type='ConvNeXt', arch='tiny'), 768, True),
    'mlp-mixer-b16': (dict(type='MlpMixer', arch='b', img_size=224, patch_size=16), 768, False),
}
DENSE_OUTPUTS = {  # backbone arguments for the detection / segmentation settings
    'small': dict(out_indices=(0, 1, 2, 3)),
    'medium': dict(out_indices=(0, 1, 2, 3)),
    'large': dict(out_indices=(0, 1, 2, 3)),
    'org-mixer': dict(out_indices=(0, 1, 2, 3), pyramid_blocks=(3, 5, 7, 11)),
    'resnet50': dict(out_indices=(0, 1, 2, 3)),
    'swin-t': dict(out_indices=(0, 1, 2, 3)),
    'convnext-t': dict(out_indices=(0, 1, 2, 3), gap_before_final_norm=False),
}
# name: (what runs, input size, CPU batch, GPU batch)
SETTINGS = {
    'cls-infer': ('classifier', (224, 224), 8, 64),
    'train-step': ('train', (224, 224), 8, 64),
    'det-backbone': ('backbone', (800, 1216), 1, 2),
    'seg-backbone': ('backbone', (512, 512), 2, 16),
    'maskrcnn-train': ('detector-train', (800, 1216), 1, 2),
    'maskrcnn-infer': ('detector-infer', (800, 1216), 1, 2),
    'retinanet-train': ('detector-train', (800, 1216), 1, 2),
    'retinanet-infer': ('detector-infer', (800, 1216), 1, 2),
    'semfpn-train': ('segmentor-train', (512, 512), 4, 4),
    'semfpn-infer': ('segmentor-infer', (512, 512), 4, 4),
}
# whole-model setting: the family of configs its models are built from (whole_models.py)
WHOLE_MODEL_FAMILIES = {
    'maskrcnn-train': 'maskrcnn', 'maskrcnn-infer': 'maskrcnn',
    'retinanet-train': 'retinanet', 'retinanet-infer': 'retinanet',
    'semfpn-train': 'semfpn', 'semfpn-infer': 'semfpn',
}
DEFAULT_SETTINGS = [s for s in SETTINGS if s not in WHOLE_MODEL_FAMILIES]
RAFTMLP_MODELS = ('small', 'medium', 'large', 'org-mixer')
# --mlp-kernels name: the value of RAFTMLP_FAST_MLP / Mlp.fast_path it stands for
MLP_KERNELS = {'plain': '0', 'onednn': '1', 'auto': 'auto'}
# environment variables that change which kernels oneDNN and MKL run
ISA_ENV = ('ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA', 'MKL_ENABLE_INSTRUCTIONS',
           'MKL_DEBUG_CPU_TYPE', 'ATEN_CPU_CAPABILITY', fast_mlp.ENV_VAR)


class Classifier(nn.Module):
    """Backbone, global average pooling over its last output, linear head (mmpretrain's layout)."""

    def __init__(self, backbone: nn.Module, channels: int, num_classes: int = 1000):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.backbone(x)[-1]  # (B, C, H, W), (B, C, N) tokens, or (B, C) pooled
        feat = feat.flatten(2).mean(dim=-1) if feat.dim() > 2 else feat
        return self.head(feat)


def build_backbone(name: str, dense: bool) -> nn.Module:
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS

    import raftmlp_mm  # noqa: F401  (registers RaftMLP)
    cfg = dict(MODELS[name][0], **(DENSE_OUTPUTS[name] if dense else {}))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return PRETRAIN_MODELS.build(cfg)


def is_whole_model(setting: str) -> bool:
    return setting in WHOLE_MODEL_FAMILIES


def is_training(setting: str) -> bool:
    return SETTINGS[setting][0] in ('train', 'detector-train', 'segmentor-train')


def setting_size(setting: str, args) -> tuple:
    """(H, W) of the setting's input, or --size when given."""
    return tuple(args.size) if args.size else SETTINGS[setting][1]


def build(name: str, setting: str) -> nn.Module:
    kind = SETTINGS[setting][0]
    if is_whole_model(setting):
        return whole_models.build_model(WHOLE_MODEL_FAMILIES[setting], name)
    if kind == 'backbone':
        return build_backbone(name, dense=True)
    return Classifier(build_backbone(name, dense=False), MODELS[name][1])


def count_macs(model: nn.Module, size) -> int:
    backbone = getattr(model, 'backbone', model)
    if isinstance(backbone, RaftMLP):
        macs = count_linear_macs(backbone, size)
        head = getattr(model, 'head', None)
        return macs + (head.in_features * head.out_features if head is not None else 0)
    from mmengine.analysis import FlopAnalyzer
    param = next(model.parameters())
    analyzer = FlopAnalyzer(model, torch.zeros(1, 3, *size, device=param.device))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total()


def step_fn(model: nn.Module, setting: str, batch: int, args) -> Callable[[], None]:
    """One timed unit of work of ``setting`` on ``model`` (already on the device)."""
    kind, size = SETTINGS[setting][0], setting_size(setting, args)
    device = torch.device(args.device)
    if is_whole_model(setting):  # fp32: mmcv's CPU NMS takes no bfloat16
        return whole_models.WholeModelStep(WHOLE_MODEL_FAMILIES[setting], model,
                                           train=is_training(setting), batch=batch, size=size,
                                           device=device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 \
        else nullcontext
    x = torch.randn(batch, 3, *size, device=device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if kind != 'train':
        model.eval()

        def run():
            with torch.inference_mode(), autocast():
                model(x)
        return run
    model.train()
    target = torch.randint(0, 1000, (batch, ), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def run():
        with autocast():
            loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return run


def prepare(name: str, setting: str, args) -> nn.Module:
    model = build(name, setting).to(args.device)
    if is_whole_model(setting):  # eager and NCHW (mmcv's CPU RoIAlign reads NCHW memory)
        return model
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.compile:
        model = torch.compile(model)
    return model


def sync(device: str):
    if device == 'cuda':
        torch.cuda.synchronize()


def time_once(run: Callable[[], None], device: str, iters: int) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        run()
    sync(device)
    return (time.perf_counter() - start) / iters


def applicable(name: str, setting: str, size: tuple = None) -> bool:
    kind, size = SETTINGS[setting][0], tuple(size or SETTINGS[setting][1])
    if is_whole_model(setting):  # the models there are configs (whole_models.py)
        return name in whole_models.MODELS
    return MODELS[name][2] or (kind != 'backbone' and size == (224, 224))


def variants(names: List[str], args) -> List[tuple]:
    """(row label, model name, MLP kernel setting or None) of every row to measure."""
    rows = []
    for name in names:
        if args.mlp_kernels and name in RAFTMLP_MODELS:
            rows += [(f'{name} [{kernels}]', name, kernels) for kernels in args.mlp_kernels]
        else:
            rows.append((name, name, None))
    return rows


def with_mlp_kernels(run: Callable[[], None], kernels: str) -> Callable[[], None]:
    """``run`` with the MLPs' fast path set to ``kernels`` (a key of MLP_KERNELS) meanwhile."""
    def wrapped():
        previous = fast_mlp.Mlp.fast_path
        fast_mlp.Mlp.fast_path = MLP_KERNELS[kernels]
        try:
            run()
        finally:
            fast_mlp.Mlp.fast_path = previous
    return wrapped


def measure_setting(setting: str, names: List[str], args) -> List[dict]:
    kind, _, cpu_batch, gpu_batch = SETTINGS[setting]
    size = setting_size(setting, args)
    batch = args.batch or (gpu_batch if args.device == 'cuda' else cpu_batch)
    whole = is_whole_model(setting)
    if whole:
        skipped = [flag for flag, on in (('--memory', args.memory),
                                         ('--onnxruntime', args.onnxruntime),
                                         ('--compile', args.compile),
                                         ('--channels-last', args.channels_last),
                                         ('--bf16', args.bf16)) if on]
        if skipped:
            print(f'note: {", ".join(skipped)} not applied to the whole-model setting {setting}')
    rows_to_measure = variants([n for n in names if applicable(n, setting, size)], args)
    rows, runs, steps, counted, ort = {}, {}, {}, {}, {}
    for label, name, kernels in rows_to_measure:
        model = prepare(name, setting, args)
        if name not in counted:  # whole models: no MAC count (nan)
            counted[name] = (count_parameters(model), float('nan') if whole
                             else count_macs(build(name, setting), size))
        params, macs = counted[name]
        rows[label] = dict(model=label, arch=name, params=params, macs=macs * batch, times=[])
        if kernels:
            rows[label]['mlp_kernels'] = kernels
        if whole:
            rows[label]['structure'] = whole_models.describe(model)
        runs[label] = steps[label] = step_fn(model, setting, batch, args)
        if kernels:
            runs[label] = with_mlp_kernels(runs[label], kernels)
        for _ in range(args.warmup):
            runs[label]()
    labels = list(rows)
    if whole:  # whole models record their parts per call: keep the timed calls only
        for step in steps.values():
            step.clear_records()
    for _ in range(args.repeats):  # round-robin: every round times every model once
        for label in labels:
            rows[label]['times'].append(time_once(runs[label], args.device, args.iters))
    if whole:  # where the time went, before --profile calls the models again
        for label in labels:
            rows[label].update(steps[label].summary())
    if args.profile:
        for label in labels:
            print_profile(label, setting, runs[label], args.profile)
    base = statistics.median(rows[BASELINE]['times']) if BASELINE in rows else None
    for label, name, kernels in rows_to_measure:
        row = rows[label]
        row['latency_ms'] = statistics.median(row['times']) * 1e3
        row['throughput'] = batch / row['latency_ms'] * 1e3
        row['ratio'] = row['latency_ms'] / (base * 1e3) if base else float('nan')
        row['batch'] = batch
        if args.memory and not whole:
            row['peak_mib'] = probe_memory(name, setting, batch, args, kernels)
        if args.onnxruntime and kind != 'train' and not whole:
            if name not in ort:  # the exported graph has plain MLPs whatever the setting
                ort[name] = onnxruntime_ms(name, setting, batch, args)
            row['ort_ms'] = ort[name]
    return [rows[label] for label in labels]


def onnxruntime_ms(name: str, setting: str, batch: int, args) -> float:
    """Median onnxruntime latency of the same model and input (opset 17, fp32), or NaN."""
    from raftmlp_mm.deployment import onnxruntime_latency
    size = setting_size(setting, args)
    try:
        model = build(name, setting)
        model.eval()  # mmpretrain's ResNet.train() returns None, so no chaining
        seconds = onnxruntime_latency(model, (batch, 3, *size),
                                      warmup=args.warmup, repeats=args.repeats,
                                      intra_op_num_threads=torch.get_num_threads())
    except Exception as error:  # an exporter limit of a peer must not end the whole run
        print(f'onnxruntime: {name} {setting} failed: {str(error).splitlines()[0][:200]}')
        return float('nan')
    return seconds * 1e3


def print_profile(name: str, setting: str, run: Callable[[], None], top: int):
    """torch.profiler's table of the ``top`` ops by self time for one unit of work."""
    from torch.profiler import profile
    with profile() as prof:
        run()
    print(f'\nprofile: {name}, {setting}')
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=top))


def probe_memory(name: str, setting: str, batch: int, args, kernels: str = None) -> float:
    """Peak memory of one unit of work, measured in a fresh process so nothing else counts."""
    cmd = [sys.executable, osp.abspath(__file__), '--probe', name, setting, '--batch', str(batch),
           '--device', args.device] + (['--size', *map(str, args.size)] if args.size else [])
    cmd += [flag for flag, on in (('--bf16', args.bf16), ('--channels-last', args.channels_last))
            if on]
    env = dict(os.environ, **({fast_mlp.ENV_VAR: MLP_KERNELS[kernels]} if kernels else {}))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])['peak_mib']


def run_probe(name: str, setting: str, args):
    model = prepare(name, setting, args)
    run = step_fn(model, setting, args.batch, args)
    run()  # libraries paged in, kernels generated, the optimizer state allocated
    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        resting = torch.cuda.memory_allocated()
        run()
        peak = torch.cuda.max_memory_allocated() - resting
    else:
        resting = resting_rss_bytes()
        run()
        peak = proc_status_bytes('VmHWM') - resting
    print(json.dumps(dict(peak_mib=peak / 2**20)))


def resting_rss_bytes() -> int:
    """RSS after returning freed heap pages to the OS, with the peak (VmHWM) reset to it.

    What stays resident is the model, the optimizer state and the libraries; the peak measured
    after this is what one unit of work adds on top (activations, gradients, temporaries).
    """
    import ctypes
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS (Linux >= 4.0)
    return proc_status_bytes('VmRSS')


def proc_status_bytes(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f'{field} is not in /proc/self/status')


def print_table(setting: str, rows: List[dict], args):
    kind, size = SETTINGS[setting][0], setting_size(setting, args)
    batch = rows[0]['batch'] if rows else args.batch
    flags = [f for f, on in (('bf16', args.bf16), ('channels-last', args.channels_last),
                             ('compile', args.compile)) if on]
    if is_whole_model(setting):  # eager, NCHW and fp32 whatever the flags (prepare, step_fn)
        flags = []
    print(f'\n### {setting}: {kind}, batch {batch}, {size[0]}x{size[1]}, {args.device}, '
          f'{torch.get_num_threads()} threads' + (f', {", ".join(flags)}' if flags else ''))
    extra = [('peak MiB', 'peak_mib', '.0f')] if any('peak_mib' in r for r in rows) else []
    if any('ort_ms' in r for r in rows):
        extra.append(('onnxruntime (ms)', 'ort_ms', '.1f'))
    print('| model | params (M) | GMACs | latency (ms) | img/s | vs ResNet-50 |'
          + ''.join(f' {title} |' for title, _, _ in extra))
    print('|---|---:|---:|---:|---:|---:|' + '---:|' * len(extra))
    for r in rows:
        print(f'| {r["model"]} | {r["params"] / 1e6:.1f} | {r["macs"] / 1e9:.2f} | '
              f'{r["latency_ms"]:.1f} | {r["throughput"]:.1f} | {r["ratio"]:.2f} |'
              + ''.join(f' {r.get(key, float("nan")):{fmt}} |' for _, key, fmt in extra))
    sys.stdout.flush()


def cpu_description() -> List[str]:
    """The CPU, its vector ISA and the math libraries: what the fastest kernel depends on."""
    info, flags = {}, set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = (part.strip() for part in line.partition(':'))
                if key == 'flags' and not flags:
                    flags = set(value.split())
                elif key in ('model name', 'cpu family', 'model', 'vendor_id'):
                    info.setdefault(key, value)
    except OSError:
        pass
    model = info.get('model name') or platform_processor()
    if 'cpu family' in info:
        model += f' ({info.get("vendor_id", "")} family {info["cpu family"]}, model ' \
                 f'{info.get("model", "?")})'.replace('( ', '(')
    if 'avx512f' in flags:
        isa = 'AVX-512 (' + ', '.join(f for f in sorted(flags) if f.startswith('avx512')) + ')'
    elif 'avx2' in flags:
        isa = 'AVX2' + (' + FMA' if 'fma' in flags else '') + ', no AVX-512'
    elif flags:
        isa = 'AVX' if 'avx' in flags else 'SSE only'
    else:
        isa = 'unknown (no /proc/cpuinfo)'
    extra = [f for f in ('avx_vnni', 'amx_tile', 'amx_bf16', 'amx_int8') if f in flags]
    if extra:
        isa += ', ' + ', '.join(extra)
    capability = getattr(getattr(torch.backends, 'cpu', None), 'get_cpu_capability', None)
    config = torch.__config__.show()
    onednn = re.search(r'(?:MKL-DNN|oneDNN)[^\n]*?v([\d.]+)', config)
    mkl = re.search(r'Math Kernel Library Version ([\d.]+)', config)
    lines = [f'cpu: {model}, {os.cpu_count()} logical CPUs; ISA: {isa}',
             'math: ' + ', '.join(part for part in (
                 f'torch CPU capability {capability()}' if capability else '',
                 f'oneDNN {onednn.group(1)}' if onednn else 'no oneDNN',
                 f'MKL {mkl.group(1)}' if mkl else 'no MKL') if part)]
    env = [f'{k}={os.environ[k]}' for k in ISA_ENV if k in os.environ]
    if env:
        lines.append('env: ' + ' '.join(env))
    return lines


def platform_processor() -> str:
    import platform
    return platform.processor() or platform.machine() or 'unknown CPU'


def print_kernel_choices():
    """The auto mode's decisions: per linear shape and direction, the kernel and both times."""
    choices = fast_mlp.kernel_choices()
    if not choices:
        return
    print('\n### MLP kernels chosen by the auto mode (fastest of at least '
          f'{fast_mlp.MEASURE_REPS} timed runs; oneDNN needs a {fast_mlp.MARGIN:.0%} lead)')
    print('| in | out | rows | direction | threads | F.linear (ms) | oneDNN (ms) | chosen |')
    print('|---:|---:|---:|---|---:|---:|---:|---|')
    for key, choice in sorted(choices.items(), key=lambda item: (
            item[0].backward is not None, item[0].in_features, item[0].out_features,
            item[0].rows_bucket)):
        direction = 'forward' if key.backward is None else 'forward+backward'
        times = {k: f'{v * 1e3:.2f}' for k, v in choice.seconds.items()}
        print(f'| {key.in_features} | {key.out_features} | {choice.rows} | {direction} | '
              f'{key.threads} | {times.get("plain", "")} | {times.get("onednn", "")} | '
              f'{"oneDNN" if choice.kernel == "onednn" else "F.linear"} |')
    sys.stdout.flush()


def resampling_report(setting: str, names: List[str], args):
    """How much of a RaftMLP backbone's forward its bicubic resampling takes at ``setting``.

    Records every resampling call of one forward (input shape, output size), then times the
    backbone and, in the same interleaved rounds, those calls replayed on their own: as the
    model computes them (two matrix products per map, models/resample.py) and as
    ``F.interpolate(mode='bicubic')`` with the transposes it needs on (B, h, w, C) tokens.
    """
    from unittest import mock

    from raftmlp_mm.models import raftmlp as raftmlp_module
    from raftmlp_mm.models import resample
    kind, _, cpu_batch, gpu_batch = SETTINGS[setting]
    size = setting_size(setting, args)
    batch = args.batch or (gpu_batch if args.device == 'cuda' else cpu_batch)
    print(f'\n### bicubic resampling inside the backbone: {setting}, batch {batch}, '
          f'{size[0]}x{size[1]}, {args.device}, {torch.get_num_threads()} threads')
    print('| model | calls | backbone (ms) | resampling (ms) | share | as F.interpolate (ms) |')
    print('|---|---:|---:|---:|---:|---:|')
    device = torch.device(args.device)
    for name in [n for n in names if n in RAFTMLP_MODELS]:
        model = build_backbone(name, dense=True).to(device).eval()
        x = torch.randn(batch, 3, *size, device=device)
        calls = []

        def recorded(function, tokens):
            def record(t, out_size):
                grid = t.shape[1:3] if tokens else t.shape[-2:]
                if tuple(grid) != tuple(out_size):  # a call that resamples
                    calls.append((tokens, tuple(t.shape), tuple(out_size)))
                return function(t, out_size)
            return record
        with torch.inference_mode(), \
                mock.patch.object(raftmlp_module, 'resize_bicubic',
                                  recorded(resample.resize_bicubic, False)), \
                mock.patch.object(raftmlp_module, 'resize_bicubic_tokens',
                                  recorded(resample.resize_bicubic_tokens, True)):
            model(x)
        inputs = [torch.randn(shape, device=device) for _, shape, _ in calls]

        def forward():
            with torch.inference_mode():
                model(x)

        def as_matrices():
            with torch.inference_mode():
                for (tokens, _, out_size), t in zip(calls, inputs):
                    (resample.resize_bicubic_tokens if tokens else resample.resize_bicubic)(
                        t, out_size)

        def as_interpolate():
            with torch.inference_mode():
                for (tokens, _, out_size), t in zip(calls, inputs):
                    t = t.permute(0, 3, 1, 2) if tokens else t  # (B, h, w, C) -> (B, C, h, w)
                    t = F.interpolate(t, size=out_size, mode='bicubic', align_corners=False)
                    if tokens:
                        t.permute(0, 2, 3, 1).contiguous()
        runs = dict(backbone=forward, matrices=as_matrices, interpolate=as_interpolate)
        times = {key: [] for key in runs}
        for run in runs.values():
            for _ in range(args.warmup):
                run()
        for _ in range(args.repeats):
            for key, run in runs.items():
                times[key].append(time_once(run, args.device, args.iters))
        ms = {key: statistics.median(t) * 1e3 for key, t in times.items()}
        print(f'| {name} | {len(calls)} | {ms["backbone"]:.1f} | {ms["matrices"]:.1f} | '
              f'{ms["matrices"] / ms["backbone"]:.1%} | {ms["interpolate"]:.1f} |')
        sys.stdout.flush()


def flops_only(names: List[str], size):
    print(f'| model | params (M) | GMACs @ {size[0]}x{size[1]} |\n|---|---:|---:|')
    for name in names:
        if not applicable(name, 'det-backbone') and tuple(size) != (224, 224):
            continue
        model = Classifier(build_backbone(name, dense=False), MODELS[name][1])
        print(f'| {name} | {count_parameters(model) / 1e6:.2f} | '
              f'{count_macs(model, size) / 1e9:.2f} |')


def plot(results: Dict[str, List[dict]], path: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 4), squeeze=False)
    for ax, (setting, rows) in zip(axes[0], results.items()):
        for r in rows:
            if r['macs'] != r['macs']:  # no MAC count (whole models): no point
                continue
            raft = r.get('arch', r['model']) in RAFTMLP_MODELS
            ax.scatter(r['macs'] / 1e9, r['latency_ms'], color='C3' if raft else 'C0')
            ax.annotate(r['model'], (r['macs'] / 1e9, r['latency_ms']), fontsize=8,
                        xytext=(3, 3), textcoords='offset points')
        ax.set(title=setting, xlabel='GMACs per batch', ylabel='latency (ms)')
        ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f'\nplot: {path}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--settings', nargs='+', default=DEFAULT_SETTINGS, choices=list(SETTINGS),
                        help='default: the classifier and backbone settings; name the whole-model '
                        'ones (maskrcnn-train etc.) to run them')
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s own)')
    parser.add_argument('--batch', type=int, help='override the setting\'s batch size')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                        help='override the setting\'s input size')
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds (median is taken)')
    parser.add_argument('--iters', type=int, default=1, help='units of work per timed round')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--bf16', action='store_true', help='bfloat16 autocast')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last input and weights (helps the convolutional peers)')
    parser.add_argument('--compile', action='store_true', help='torch.compile every model')
    parser.add_argument('--memory', action='store_true',
                        help='also measure peak memory (one subprocess per model)')
    parser.add_argument('--onnxruntime', action='store_true',
                        help='also time onnxruntime (CPU, same threads) on the inference settings')
    parser.add_argument('--mlp-kernels', nargs='+', choices=list(MLP_KERNELS), metavar='KERNELS',
                        help='time every RaftMLP model once per setting of its MLPs\' CPU fast '
                        'path, side by side: plain (nn.Linear), onednn (oneDNN matmuls), auto '
                        '(the faster of both per shape, measured); default: as '
                        f'${fast_mlp.ENV_VAR} says (auto if unset)')
    parser.add_argument('--resampling', action='store_true',
                        help='also report the share of the bicubic resampling in every RaftMLP '
                        'backbone at the det-backbone / seg-backbone settings, against '
                        'F.interpolate')
    parser.add_argument('--profile', type=int, metavar='N',
                        help='also print the top N ops (torch.profiler) of every model')
    parser.add_argument('--json', help='also write the rows to this file')
    parser.add_argument('--plot', help='save latency vs MACs, one panel per setting, here')
    parser.add_argument('--flops-only', action='store_true', help='only params and MACs')
    parser.add_argument('--input-size', type=int, nargs=2, default=[224, 224],
                        help='input size for --flops-only')
    parser.add_argument('--probe', nargs=2, metavar=('MODEL', 'SETTING'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible to torch')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.probe:
        return run_probe(*args.probe, args)
    if args.flops_only:
        return flops_only(args.models, args.input_size)
    names = list(dict.fromkeys(([BASELINE] if BASELINE not in args.models else [])
                               + args.models))
    print('command: python tools/analysis_tools/benchmark.py ' + ' '.join(sys.argv[1:]))
    print(f'torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads')
    for line in cpu_description():
        print(line)
    results = {}
    for setting in args.settings:
        results[setting] = measure_setting(setting, names, args)
        print_table(setting, results[setting], args)
        if is_whole_model(setting):
            whole_models.print_share_table(setting, results[setting], is_training(setting))
        if args.resampling and SETTINGS[setting][0] == 'backbone':
            resampling_report(setting, names, args)
    if args.mlp_kernels and 'auto' in args.mlp_kernels:
        print_kernel_choices()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if args.plot:
        plot(results, args.plot)


if __name__ == '__main__':
    main()
