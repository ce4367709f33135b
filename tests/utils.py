"""Helpers the end-to-end tests share: run our tools and launchers as a user would."""
import importlib.util
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys

import torch
from mmengine.config import Config

from .conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool_env(**extra) -> dict:
    """The environment a user of the venv has: its python first on PATH, the repo importable."""
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env['PORT'] = str(free_port())
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, timeout=600, **env) -> subprocess.CompletedProcess:
    """Run ``cmd`` (a list) from the repo root; fail the test with its output if it fails."""
    result = subprocess.run([str(c) for c in cmd], cwd=REPO_ROOT, env=tool_env(**env),
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, cmd))} exited {result.returncode}\n'
                             f'--- stdout ---\n{result.stdout[-4000:]}\n'
                             f'--- stderr ---\n{result.stderr[-6000:]}')
    return result


def run_killed(cmd, timeout=600) -> subprocess.CompletedProcess:
    """Run ``cmd`` whose training process a tests/killers.py hook SIGKILLs: it must die by
    SIGKILL itself, or under mim, which reports its child's death."""
    result = subprocess.run([str(c) for c in cmd], cwd=REPO_ROOT, env=tool_env(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == -signal.SIGKILL or \
        'died with <Signals.SIGKILL: 9>' in result.stderr, \
        (result.returncode, result.stdout[-2000:], result.stderr[-4000:])
    return result


def python_tool(script: str, *args, **kwargs) -> subprocess.CompletedProcess:
    return run([sys.executable, osp.join(REPO_ROOT, script), *args], **kwargs)


def load_tool(script: str):
    """A tool's module (``script`` relative to the repository), loaded in this process."""
    spec = importlib.util.spec_from_file_location(
        'tool_' + re.sub(r'\W', '_', script), osp.join(REPO_ROOT, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def killer_config(folder, hook: str, base: str) -> str:
    """A demo config plus a hook of tests/killers.py, after the config's own hooks."""
    hooks = [h.to_dict() for h in Config.fromfile(osp.join(REPO_ROOT, base)).custom_hooks]
    path = osp.join(folder, 'killed_run.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO_ROOT, base)!r}]\n'
                f'custom_hooks = {hooks!r} + [{hook}]\n')
    return path


def assert_same_training_state(expected_path, actual_path):
    expected = torch.load(expected_path, map_location='cpu')
    actual = torch.load(actual_path, map_location='cpu')
    # (meta epoch differs by design: an iteration checkpoint saved at an epoch's last batch
    # counts that epoch as unfinished)
    assert expected['meta']['iter'] == actual['meta']['iter']
    assert expected['state_dict'].keys() == actual['state_dict'].keys()
    for key, value in expected['state_dict'].items():
        assert torch.equal(value, actual['state_dict'][key]), key
    states = expected['optimizer']['state'], actual['optimizer']['state']
    assert states[0].keys() == states[1].keys()
    for param, state in states[0].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(states[1][param][name]))
