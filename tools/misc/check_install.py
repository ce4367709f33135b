"""Check that the installed OpenMMLab stack really works on this machine.

mmcv silently builds without its compiled ops when torch is missing at build time, and several
OpenMMLab packages import modules they do not declare; each check below fails with the fix.
"""
import importlib
import sys


def main():
    problems = []
    versions = {}
    for name in ('torch', 'torchvision', 'numpy', 'mmengine', 'mmcv', 'mmdet', 'mmseg',
                 'mmpretrain', 'raftmlp_mm'):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception as e:  # report every missing piece, not only the first
            problems.append(f'import {name} failed: {e!r}')
    for name in ('mmdet.models', 'mmseg.models', 'mmpretrain.models'):
        try:
            importlib.import_module(name)
        except Exception as e:
            problems.append(f'import {name} failed: {e!r} (mmseg needs ftfy and regex, '
                            'mmpretrain needs a torchvision that matches torch)')
    try:
        import torch
        from mmcv.ops import RoIAlign, nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
        _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
        assert keep.tolist() == [0, 2], keep
        feats = torch.arange(64.).view(1, 1, 8, 8)
        rois = torch.tensor([[0., 0., 0., 4., 4.]])
        out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)(feats, rois)
        assert out.shape == (1, 1, 2, 2), out.shape
    except Exception as e:
        problems.append(f'mmcv ops do not run: {e!r}. Rebuild mmcv with its ops: '
                        'MMCV_WITH_OPS=1 pip install --no-build-isolation --no-cache-dir '
                        'mmcv==2.1.0 '
                        '(torch and setuptools<70 must be installed first)')
    print('  '.join(f'{k} {v}' for k, v in versions.items()))
    if problems:
        print('\n'.join(['Installation check FAILED:'] + problems), file=sys.stderr)
        sys.exit(1)
    print('Installation check passed: mmcv ops (nms, RoIAlign) run; mmdet, mmseg and mmpretrain '
          'import.')


if __name__ == '__main__':
    main()
