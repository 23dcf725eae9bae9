"""Base models RealFill can fine-tune, one file each (``sd2.py``, ``sdxl.py``): a backbone
registers itself with ``@BACKBONES.register("name")`` and names the pipeline classes it handles."""
from .base import BACKBONES, Backbone, backbone_for, read_model_index

__all__ = ["BACKBONES", "Backbone", "backbone_for", "read_model_index"]
