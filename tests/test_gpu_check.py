"""tools/misc/gpu_check.py, the GPU path's one-run check, runs its logic on the CPU here."""
import re
import sys

import pytest

from .utils import python_tool, run


def test_gpu_check_runs_ops_and_golden_tensors_on_the_cpu():
    result = python_tool('tools/misc/gpu_check.py', '--device', 'cpu', '--steps', 'ops',
                         'golden')
    rows = dict(re.findall(r'^\| (\w[\w-]*) \| (PASS|FAIL) \|', result.stdout, re.M))
    assert rows == {'ops': 'PASS', 'golden': 'PASS'}, result.stdout
    worst = float(re.search(r'worst \|diff\| ([\d.e+-]+)', result.stdout).group(1))
    assert worst <= 1e-5  # on the CPU the golden tensors hold at the fidelity tests' 1e-5


def test_gpu_check_without_cuda_names_the_cpu_option():
    import torch
    if torch.cuda.is_available():  # a GPU machine runs the real check instead
        python_tool('tools/misc/gpu_check.py', '--steps', 'ops')
        return
    with pytest.raises(AssertionError) as failure:
        run([sys.executable, 'tools/misc/gpu_check.py', '--steps', 'ops'])
    assert 'no CUDA device here' in str(failure.value) and '--device cpu' in str(failure.value)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_gpu_check_passes_every_step_on_the_cpu(tmp_path):
    """The whole check: bf16 AMP training of each host's demo (CPU autocast), the benchmark."""
    result = python_tool('tools/misc/gpu_check.py', '--device', 'cpu', '--work-dir', tmp_path,
                         timeout=1800)
    rows = dict(re.findall(r'^\| (\w[\w-]*) \| (PASS|FAIL) \|', result.stdout, re.M))
    assert rows == {step: 'PASS' for step in ('ops', 'golden', 'train-cls', 'train-det',
                                              'train-seg', 'benchmark')}, result.stdout
