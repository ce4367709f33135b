from .digits import DIGIT_CLASSES, write_canvases, write_classification

__all__ = ['DIGIT_CLASSES', 'write_canvases', 'write_classification']
