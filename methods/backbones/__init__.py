"""Base models RealFill (and DreamBooth) can fine-tune, one file each (``sd2.py``, ``sdxl.py``,
``flux_fill.py``): a backbone registers itself with ``@BACKBONES.register("name")`` and names the
pipeline classes it handles; ``base.Backbone`` says what one owns."""
from .base import (
    BACKBONES,
    SAMPLERS,
    TASKS,
    Backbone,
    backbone_class,
    backbone_for,
    check_unet,
    read_model_index,
)

__all__ = ["BACKBONES", "SAMPLERS", "TASKS", "Backbone", "backbone_class", "backbone_for", "check_unet",
           "read_model_index"]
