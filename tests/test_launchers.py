"""The launch scripts as a user meets them: in a new shell, after `make demo` / `make test`."""
import os
import os.path as osp
import subprocess
import sys

from .conftest import REPO_ROOT
from .utils import free_port

CLS_DEMO = 'configs/classification/demo/raftmlp_s_digits.py'
QUICK = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=32',
         'val_dataloader.dataset.indices=32', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False']


def new_shell_env() -> dict:
    """A new shell's environment: no virtualenv active, no venv on PATH, no PYTHONPATH."""
    return dict(PATH='/usr/local/bin:/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'),
                OMP_NUM_THREADS='1', PORT=str(free_port()))


def test_dist_train_finds_the_checkouts_venv_in_a_new_shell(digits, tmp_path):
    venv = osp.join(REPO_ROOT, '.venv')
    assert osp.isdir(venv) and osp.samefile(sys.prefix, venv), \
        'run the suite as the README says (make test), from the checkout\'s .venv'
    result = subprocess.run(['bash', 'tools/dist_train.sh', CLS_DEMO, '1', '--work-dir',
                             str(tmp_path / 'wd'), '--cfg-options', *QUICK],
                            cwd=REPO_ROOT, env=new_shell_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'wd' / 'epoch_1.pth').is_file()
