"""Helpers the end-to-end tests share: run our tools and launchers as a user would."""
import os
import os.path as osp
import socket
import subprocess
import sys

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


def python_tool(script: str, *args, **kwargs) -> subprocess.CompletedProcess:
    return run([sys.executable, osp.join(REPO_ROOT, script), *args], **kwargs)
