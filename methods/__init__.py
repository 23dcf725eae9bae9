"""Method adapters, one file each. A module registers its class with ``@METHODS.register("name")``;
the registry finds the modules of this package on first use, so a new method is one new file."""
from .base import METHODS, Method, MethodInfo, Output

__all__ = ["METHODS", "Method", "MethodInfo", "Output"]
