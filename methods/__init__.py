"""Method adapters, one file each, registered lazily by name."""
from realbench.registry import Registry

from .base import Method, MethodInfo, Output

METHODS = Registry("method")
METHODS.add_lazy("oracle", "methods.oracle:Oracle")
METHODS.add_lazy("telea", "methods.telea:Telea")
METHODS.add_lazy("homography-warp", "methods.homography_warp:HomographyWarp")
METHODS.add_lazy("realfill", "methods.realfill:RealFill")
METHODS.add_lazy("sd-inpaint", "methods.sd_inpaint:SDInpaint")
METHODS.add_lazy("paint-by-example", "methods.paint_by_example:PaintByExample")

__all__ = ["METHODS", "Method", "MethodInfo", "Output"]
