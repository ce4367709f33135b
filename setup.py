"""raftmlp_mm: RaftMLP (arXiv 2108.04384) as an OpenMMLab backbone for mmpretrain, mmdet and mmseg."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Requirement lines of ``requirements/<name>.txt``, comments and blanks dropped."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    with open(osp.join(HERE, 'raftmlp_mm', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


setup(
    name='raftmlp_mm',
    version=read_version(),
    description='RaftMLP backbones for mmpretrain, mmdet and mmsegmentation',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['raftmlp_mm', 'raftmlp_mm.*']),
    install_requires=read_requirements('runtime') + read_requirements('mminstall'),
    extras_require=dict(
        tests=read_requirements('tests'),
        # ONNX export and onnxruntime (raftmlp_mm.deployment), pinned as in tests.txt
        export=[r for r in read_requirements('tests') if r.startswith('onnx')],
        optional=read_requirements('optional') + read_requirements('nodeps'),
        wandb=['wandb'],
    ),
    zip_safe=False,
)
