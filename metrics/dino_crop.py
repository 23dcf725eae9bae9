"""``dino_crop``: DINO ViT-S/16 CLS cosine with the DINO repository's evaluation transform,
``Resize(256)`` (bicubic, shorter side) then ``CenterCrop(224)``, ImageNet mean/std, as
eric15342335/realfill's ``benchmark/dino_metric.py`` does; it ignores the borders of non-square
images."""
from __future__ import annotations

from .base import METRICS, MetricInfo
from .dino_similarity import DINO


@METRICS.register("dino_crop")
class CroppedDINO(DINO):
    info = MetricInfo(
        name="dino_crop", higher_is_better=True, range=(-1.0, 1.0), level="high", region="full", needs_weights=True,
        description="DINO ViT-S/16 CLS cosine with DINO's eval transform (resize 256, centre crop 224)",
    )
    crop = True
