"""The digits canvases as a semantic segmentation dataset, read from ADE20K's folder layout.

``images/{training,validation}/*.jpg`` with ``annotations/{training,validation}/*.png`` label maps,
loaded exactly as mmseg's ``ADE20KDataset`` loads ADE20K. The one difference: 0 is a real class
here (background), so the zero label is kept (ADE20K drops it with ``reduce_zero_label``).
"""
from mmseg.datasets import BaseSegDataset

from ..registry import DATASETS
from .digits import DIGIT_CLASSES


@DATASETS.register_module()
class DigitsSegDataset(BaseSegDataset):
    """11 classes: background, then the digits 0-9 (label map value = digit + 1)."""

    METAINFO = dict(
        classes=('background', ) + DIGIT_CLASSES,
        palette=[[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                 [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
                 [210, 245, 60], [250, 190, 212]])

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=False,
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
