"""Method adapters, one file each, registered lazily by name."""
from realbench.registry import Registry

from .base import Method, MethodInfo, Output

METHODS = Registry("method")
METHODS.add_lazy("oracle", "methods.oracle:Oracle")
METHODS.add_lazy("telea", "methods.telea:Telea")

__all__ = ["METHODS", "Method", "MethodInfo", "Output"]
