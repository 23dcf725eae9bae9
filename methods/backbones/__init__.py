"""Base models RealFill (and DreamBooth) can fine-tune, one file each (``sd2.py``, ``sdxl.py``): a
backbone registers itself with ``@BACKBONES.register("name")`` and names the pipeline classes it handles."""
from .base import BACKBONES, TASKS, Backbone, backbone_class, backbone_for, check_unet, read_model_index

__all__ = ["BACKBONES", "TASKS", "Backbone", "backbone_class", "backbone_for", "check_unet", "read_model_index"]
