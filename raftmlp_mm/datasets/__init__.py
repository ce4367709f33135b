from .digits import DIGIT_CLASSES, write_canvases, write_classification
from .digits_seg import DigitsSegDataset

__all__ = ['DIGIT_CLASSES', 'DigitsSegDataset', 'write_canvases', 'write_classification']
