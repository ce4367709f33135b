"""raftmlp_mm: RaftMLP (arXiv 2108.04384) as an OpenMMLab backbone for mmpretrain, mmdet and mmseg.

Dependencies are declared as the ranges the code supports (requirements/runtime.txt,
mminstall.txt, hosts.txt), so installing into an existing OpenMMLab environment keeps its
versions. The hosts are optional extras: ``.[det]`` (mmdet), ``.[seg]`` (mmsegmentation),
``.[cls]`` (mmpretrain), ``.[hosts]`` (all three). The exact tested set is
requirements/constraints.txt, which the Makefile passes to every install.

The model index (model-index.yml and the metafiles under configs/) is shipped for ``mim``:
copied into the package as ``raftmlp_mm/.mim`` in a wheel, and pointed at from
``<site-packages>/raftmlp_mm/model-index.yml`` in an editable install (see BuildMim).
"""
import os
import os.path as osp
import re
import shutil

from setuptools import Command, find_packages, setup

try:  # setuptools >= 62.4
    from setuptools.command.build import build
except ImportError:  # older setuptools
    from distutils.command.build import build

HERE = osp.dirname(osp.abspath(__file__))
PACKAGE = 'raftmlp_mm'
MODEL_INDEX = 'model-index.yml'
MIM_FILES = [MODEL_INDEX, 'configs', 'tools']  # what `mim` reads from <package>/.mim
HOST_EXTRAS = {'det': 'mmdet', 'seg': 'mmsegmentation', 'cls': 'mmpretrain'}
SEG_UNDECLARED = ('ftfy', 'regex')  # mmsegmentation 1.2 imports them without declaring them


def read_requirements(name):
    """Requirement lines of ``requirements/<name>.txt``, comments and blanks dropped."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def requirement_name(line):
    return re.match(r'[A-Za-z0-9_.\-]+', line).group(0).lower()


def host_extras():
    """One extra per host (its range from hosts.txt), plus ``hosts`` for all three."""
    hosts = {requirement_name(r): r for r in read_requirements('hosts')}
    extras = {extra: [hosts[package]] for extra, package in HOST_EXTRAS.items()}
    extras['seg'] += [hosts[name] for name in SEG_UNDECLARED]
    extras['hosts'] = sorted({r for reqs in extras.values() for r in reqs})
    return extras


def read_version():
    with open(osp.join(HERE, PACKAGE, 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


class BuildMim(Command):
    """Put the model index where ``mim search raftmlp_mm`` looks for it.

    mim reads ``<location>/raftmlp_mm/.mim/model-index.yml`` or, failing that,
    ``<location>/raftmlp_mm/model-index.yml``, where ``<location>`` is the folder holding the
    installed distribution's metadata: site-packages, for wheels and for PEP 660 editable
    installs alike.

    - A wheel (``pip install .``): model-index.yml, configs/ and tools/ are copied into the
      package as ``raftmlp_mm/.mim`` (OpenMMLab's layout).
    - An editable install (``pip install -e .``): the editable wheel holds no package files, so
      this command adds one: ``<site-packages>/raftmlp_mm/model-index.yml``, importing this
      checkout's metafiles by absolute path (edits to them show at once). That folder has no
      ``__init__.py``; the checkout is put on ``sys.path`` by the editable ``.pth`` file
      (``package_dir={'': '.'}`` below selects that mode), and a regular package anywhere on
      ``sys.path`` wins over a folder without ``__init__.py``, so ``import raftmlp_mm`` still
      imports the checkout. ``pip uninstall`` removes the file and its folder with the rest.
    """

    description = "ship the model index for mim (as <package>/.mim)"
    user_options = []

    def initialize_options(self):
        self.build_lib = None
        self.editable_mode = False  # set by setuptools' editable_wheel
        self.outputs = []

    def finalize_options(self):
        self.set_undefined_options('build_py', ('build_lib', 'build_lib'))

    def run(self):
        if self.editable_mode:
            self.write_editable_index()
        else:
            self.copy_index()

    def copy_index(self):
        target = osp.join(self.build_lib, PACKAGE, '.mim')
        for name in MIM_FILES:
            src, dst = osp.join(HERE, name), osp.join(target, name)
            if osp.isdir(dst):
                shutil.rmtree(dst)
            os.makedirs(osp.dirname(dst), exist_ok=True)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
                self.outputs += [osp.join(d, f) for d, _, fs in os.walk(dst) for f in fs]
            elif osp.isfile(src):
                shutil.copyfile(src, dst)
                self.outputs.append(dst)

    def write_editable_index(self):
        with open(osp.join(HERE, MODEL_INDEX)) as f:
            imports = re.findall(r'^\s*-\s*(\S+\.ya?ml)\s*$', f.read(), flags=re.M)
        lines = ['# Written by raftmlp_mm\'s setup.py for an editable install: the model index',
                 f'# is the checkout\'s, {osp.join(HERE, MODEL_INDEX)}.', 'Import:']
        lines += [f'  - {osp.join(HERE, path)}' for path in imports]
        install_lib = self.get_finalized_command('install').install_lib
        path = osp.join(install_lib, PACKAGE, MODEL_INDEX)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.outputs.append(path)

    def get_outputs(self):
        return [] if self.editable_mode else list(self.outputs)

    def get_output_mapping(self):
        return {}

    def get_source_files(self):
        files = [osp.join(HERE, MODEL_INDEX)]
        for name in MIM_FILES[1:]:
            files += [osp.join(d, f) for d, _, fs in os.walk(osp.join(HERE, name)) for f in fs
                      if '__pycache__' not in d]
        return [osp.relpath(f, HERE) for f in files]


class Build(build):
    sub_commands = build.sub_commands + [('build_mim', None)]


setup(
    name='raftmlp_mm',
    version=read_version(),
    description='RaftMLP backbones for mmpretrain, mmdet and mmsegmentation',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    package_dir={'': '.'},
    packages=find_packages(include=['raftmlp_mm', 'raftmlp_mm.*']),
    install_requires=read_requirements('runtime') + read_requirements('mminstall'),
    extras_require=dict(
        **host_extras(),
        tests=read_requirements('tests'),
        # ONNX export and onnxruntime (raftmlp_mm.deployment), pinned as in tests.txt
        export=[r for r in read_requirements('tests') if r.startswith('onnx')],
        optional=read_requirements('optional') + read_requirements('nodeps'),
        wandb=['wandb'],
    ),
    cmdclass={'build': Build, 'build_mim': BuildMim},
    zip_safe=False,
)
