"""mmdet's ``SingleRoIExtractor`` that can also run ``MatmulRoIAlign`` (models/roi_align.py).

mmdet builds an extractor's ``roi_layer`` by name from ``mmcv.ops`` only, so a config names this
extractor to use the matrix-product RoIAlign, in plain sight::

    bbox_roi_extractor=dict(
        type='raftmlp_mm.SingleRoIExtractor',
        roi_layer=dict(type='MatmulRoIAlign', output_size=7, sampling_ratio=0), ...)

Any other ``roi_layer`` type is built by mmdet as usual.
"""
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor as MMDetSingleRoIExtractor
from torch import nn

from ..registry import MODELS
from .roi_align import MatmulRoIAlign

ROI_LAYERS = {'MatmulRoIAlign': MatmulRoIAlign}


@MODELS.register_module()
class SingleRoIExtractor(MMDetSingleRoIExtractor):

    def build_roi_layers(self, layer_cfg, featmap_strides) -> nn.ModuleList:
        if layer_cfg.get('type') not in ROI_LAYERS:
            return super().build_roi_layers(layer_cfg, featmap_strides)
        cfg = dict(layer_cfg)
        layer_cls = ROI_LAYERS[cfg.pop('type')]
        return nn.ModuleList(layer_cls(spatial_scale=1 / stride, **cfg)
                             for stride in featmap_strides)
