"""Export: ONNX (onnxruntime), TorchScript and torch.export reproduce the torch models, and the
tools/deployment/export_onnx.py command works as a user runs it."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from raftmlp_mm.deployment import (ONNX_ATOL, ClassifierLogits, OnnxModel, example_input,
                                   export_onnx, export_program, export_torchscript, max_abs_diff,
                                   onnxruntime_latency, require, run_program, time_onnxruntime)
from raftmlp_mm.models import RaftMLP
from raftmlp_mm.models.resample import bicubic_matrix

from .conftest import REPO_ROOT
from .utils import load_tool, python_tool, tool_env

# test dependencies (requirements/tests.txt): a missing one fails with the install command
onnx = require('onnx')
require('onnxruntime')

TOOL = 'tools/deployment/export_onnx.py'
CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'  # RaftMLP-S, img_size 32
SEG_DEMO = 'configs/segmentation/demo/fpn_raftmlp_s_digits.py'  # RaftMLP-S, img_size 64
# (N, C, H, W): the token-MLP grid of img_size 64, and another size, where every block
# resamples bicubically to that grid and back (along H)
SHAPES = {'img_size': (2, 3, 64, 64), 'resampled': (2, 3, 96, 64)}


# two shallow levels: quick to export, with the same kinds of ops as RaftMLP-S
TINY_ARCH = dict(depths=[1, 1], channels=[16, 32], patch_sizes=[4, 2], raft_sizes=[2, 2],
                 embed_kernels=[[4, 8], [2, 4]], token_mixing='raft')


def seeded(build):
    torch.manual_seed(0)
    return build().eval()


@pytest.fixture(scope='module')
def tiny():
    return seeded(lambda: RaftMLP(arch=TINY_ARCH, img_size=64, out_indices=(0, 1)))


@pytest.fixture(scope='module')
def backbone():
    return seeded(lambda: RaftMLP(arch='small', img_size=64, out_indices=(0, 1, 2, 3)))


@pytest.fixture(scope='module')
def classifier():
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    import raftmlp_mm  # noqa: F401  (registers RaftMLP)
    register_all_modules(init_default_scope=False)
    cfg = dict(type='ImageClassifier',
               backbone=dict(type='raftmlp_mm.RaftMLP', arch='small', img_size=64),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return seeded(lambda: MODELS.build(cfg))


def resampling_matrices(graph):
    """The constant left operands of the graph's MatMuls: the bicubic resampling matrices (the
    MLPs' weights are right operands)."""
    constants = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    constants.update({node.output[0]: onnx.numpy_helper.to_array(node.attribute[0].t)
                      for node in graph.node if node.op_type == 'Constant'})
    return [constants[node.input[0]] for node in graph.node
            if node.op_type == 'MatMul' and node.input[0] in constants]


@pytest.mark.parametrize('size', sorted(SHAPES))
def test_backbone_onnx_matches_torch(backbone, size, tmp_path):
    shape = SHAPES[size]
    path = str(tmp_path / 'backbone.onnx')
    names = export_onnx(backbone, path, shape, output_names=[f'feat{i}' for i in range(4)])
    runner = OnnxModel(path)
    assert names == runner.output_names == ['feat0', 'feat1', 'feat2', 'feat3']
    assert runner.input_name == 'input' and runner.input_shape == shape
    assert {o.domain or 'ai.onnx': o.version for o in onnx.load(path).opset_import} == {
        'ai.onnx': 17}

    x = example_input(shape, seed=1)
    with torch.no_grad():
        expected = backbone(x)
    outputs = runner(x)
    assert [o.shape for o in outputs] == [tuple(t.shape) for t in expected]
    assert max_abs_diff(outputs, expected) <= ONNX_ATOL

    graph = onnx.load(path).graph
    assert not [node.op_type for node in graph.node if node.op_type == 'Resize']
    if size == 'img_size':
        assert not resampling_matrices(graph)  # the run-time grids are the token-MLP grids
    else:
        # every block resamples its grid along H (96 rows, not 64) to its token-MLP grid and
        # back: torch's bicubic weights, as the constant matrices of two MatMuls. RaftMLP-S:
        # 2, 2, 6 and 2 blocks on grids of 24, 12, 6 and 3 rows for 16, 8, 4 and 2
        matrices = resampling_matrices(graph)
        expected_shapes = [(16, 24), (24, 16)] * 2 + [(8, 12), (12, 8)] * 2 + [
            (4, 6), (6, 4)] * 6 + [(2, 3), (3, 2)] * 2
        assert sorted(m.shape for m in matrices) == sorted(expected_shapes)
        for m in matrices:
            expected = bicubic_matrix(m.shape[1], m.shape[0]).numpy()
            np.testing.assert_array_equal(m, expected)


@pytest.mark.parametrize('size', sorted(SHAPES))
def test_classifier_onnx_outputs_the_logits(classifier, size, tmp_path):
    shape = SHAPES[size]
    path = str(tmp_path / 'classifier.onnx')
    assert export_onnx(ClassifierLogits(classifier), path, shape, output_names=['logits']) == [
        'logits']
    x = example_input(shape, seed=2)
    with torch.no_grad():
        logits = classifier(x, mode='tensor')
    assert logits.shape == (shape[0], 10)
    (outputs, ) = OnnxModel(path, intra_op_num_threads=1)(x.numpy())
    assert max_abs_diff(outputs, logits) <= ONNX_ATOL
    assert not classifier.training  # exported from a copy: the model is left as it was


def test_onnx_model_refuses_another_input_shape(tiny, tmp_path):
    path = str(tmp_path / 'tiny.onnx')
    export_onnx(tiny, path, (1, 3, 64, 64), check=False)
    with pytest.raises(ValueError, match=r'exported for input shape \(1, 3, 64, 64\).*export '
                                         'again'):
        OnnxModel(path)(np.zeros((1, 3, 96, 64), np.float32))


# Recorded graphs use aten.linear; eager CPU runs the MLPs as oneDNN matmuls (Mlp's fast path),
# which round differently: the same tolerance as the golden-tensor fidelity tests.
EAGER_ATOL = 1e-5


def test_torchscript_round_trip(classifier, tmp_path):
    shape = SHAPES['resampled']
    path = str(tmp_path / 'classifier.pt')
    export_torchscript(ClassifierLogits(classifier), path, shape)
    loaded = torch.jit.load(path)
    x = example_input(shape, seed=3)
    with torch.no_grad():
        assert max_abs_diff(loaded(x), classifier(x, mode='tensor')) <= EAGER_ATOL


def test_torch_export_program_and_save_load_round_trip(backbone, tmp_path):
    shape = (1, 3, 64, 64)
    path = str(tmp_path / 'backbone.pt2')
    program = export_program(backbone, shape, path)
    x = example_input(shape, seed=4)
    with torch.no_grad():
        expected = backbone(x)
    assert max_abs_diff(run_program(program, x), expected) <= EAGER_ATOL
    assert max_abs_diff(run_program(torch.export.load(path), x), expected) <= EAGER_ATOL


def test_torch_export_of_the_resampling_path(tiny):
    # the bicubic resampling path (its matrices as the program's constants) on a shallow arch
    shape = (1, 3, 96, 64)
    program = export_program(tiny, shape)
    x = example_input(shape, seed=5)
    with torch.no_grad():
        assert max_abs_diff(run_program(program, x), tiny(x)) <= ONNX_ATOL


def test_onnxruntime_timing(tiny, tmp_path):
    path = str(tmp_path / 'tiny.onnx')
    export_onnx(tiny, path, (1, 3, 96, 64), check=False)
    # a latency in seconds, whatever the machine's speed (no time limit is asserted)
    latency = time_onnxruntime(path, warmup=1, repeats=3, intra_op_num_threads=1)
    assert np.isfinite(latency) and latency > 0
    latency = onnxruntime_latency(tiny, (1, 3, 96, 64), warmup=1, repeats=2,
                                  intra_op_num_threads=1)
    assert np.isfinite(latency) and latency > 0


def test_missing_packages_name_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # makes `import onnxruntime` fail
    with pytest.raises(ImportError, match=r'onnxruntime is not installed.*pip install -r '
                                          r'requirements/tests.txt.*onnxruntime=='):
        require('onnxruntime')


# ----------------------------------------------------------------------------- the command line

def tool_error(tool, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        tool.main(argv)
    assert exit_info.value.code not in (0, None)
    return str(exit_info.value.code) + capsys.readouterr().err


def test_tool_refuses_to_overwrite_and_names_missing_packages(tmp_path, monkeypatch, capsys):
    tool = load_tool(TOOL)
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'a file of the user')
    message = tool_error(tool, [CLS_DEMO, '--out', str(out)], capsys)
    assert f'{out} already exists' in message and '--force' in message
    assert out.read_bytes() == b'a file of the user'

    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    message = tool_error(tool, [CLS_DEMO, '--out', str(tmp_path / 'new.onnx'), '--verify'],
                         capsys)
    assert 'onnxruntime is not installed' in message
    assert 'pip install -r requirements/tests.txt' in message
    assert not (tmp_path / 'new.onnx').exists()


def test_tool_rejects_a_shape_off_the_patch_grid():
    tool = load_tool(TOOL)
    model = RaftMLP(arch='small', img_size=64)
    args = tool.parse_args([CLS_DEMO, '--out', 'unused.onnx', '--shape', '100', '64'])
    with pytest.raises(SystemExit, match=r'--shape 100 64 is not divisible by the backbone\'s '
                                         r'patch grid.*multiples of 32, e.g. --shape 96 64'):
        tool.input_size(args, model)
    args = tool.parse_args([CLS_DEMO, '--out', 'unused.onnx', '--shape', '96'])
    assert tool.input_size(args, model) == (96, 96)


def test_tool_verify_fails_above_the_tolerance(capsys):
    tool = load_tool(TOOL)
    reference = [torch.zeros(2, 3)]
    tool.verify([('onnxruntime', [np.full((2, 3), 5e-5, np.float32)])], reference, 1e-4)
    assert 'verify: OK' in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r'onnxruntime differs from torch by 0\.0002, above '
                                         r'--atol 0\.0001'):
        tool.verify([('onnxruntime', [np.full((2, 3), 2e-4, np.float32)])], reference, 1e-4)
    with pytest.raises(SystemExit, match='TorchScript differs from torch by nan'):
        tool.verify([('TorchScript', [torch.full((2, 3), float('nan'))])], reference, 1e-4)


def test_tool_exports_a_checkpoint_and_verifies(tmp_path):
    """A trained classifier's checkpoint, at a size other than img_size, with TorchScript."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, CLS_DEMO))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = seeded(lambda: MODELS.build(cfg.model))
    checkpoint = tmp_path / 'epoch_5.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    out, script = tmp_path / 'cls.onnx', tmp_path / 'cls.pt'
    command = [CLS_DEMO, checkpoint, '--out', out, '--shape', '64', '32', '--batch', '2',
               '--torchscript', script, '--verify']
    result = python_tool(TOOL, *command, timeout=300)
    assert 'output logits [2, 10]' in result.stdout
    assert 'verify: onnxruntime vs torch' in result.stdout
    assert 'verify: TorchScript vs torch' in result.stdout
    assert 'verify: OK' in result.stdout
    assert 'random' not in result.stdout + result.stderr

    # the file holds the checkpoint's weights
    x = example_input((2, 3, 64, 32))
    with torch.no_grad():
        logits = model(x, mode='tensor')
    assert max_abs_diff(OnnxModel(str(out))(x), logits) <= ONNX_ATOL

    # a second run must not replace the user's files
    before = out.read_bytes()
    again = subprocess.run([sys.executable, osp.join(REPO_ROOT, TOOL), *map(str, command)],
                           cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode != 0
    assert f'{out} already exists' in again.stderr and '--force' in again.stderr
    assert out.read_bytes() == before


def test_tool_exports_the_backbone_of_a_segmentation_config(tmp_path):
    out = tmp_path / 'backbone.onnx'
    out.write_bytes(b'old export')
    result = python_tool(TOOL, SEG_DEMO, '--backbone-only', '--out', out, '--force', '--verify',
                         timeout=300)
    assert 'warning: no CHECKPOINT given' in result.stdout
    for name, shape, stride in (('feat0', [1, 64, 16, 16], 4), ('feat1', [1, 128, 8, 8], 8),
                                ('feat2', [1, 256, 4, 4], 16), ('feat3', [1, 512, 2, 2], 32)):
        assert f'output {name} {shape} (stride {stride})' in result.stdout
    assert 'verify: OK' in result.stdout
    outputs = [o.name for o in onnx.load(str(out)).graph.output]
    assert outputs == ['feat0', 'feat1', 'feat2', 'feat3']
