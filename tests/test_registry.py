"""Registries: lazy entries, did-you-mean, module:attr for users' own implementations."""
import sys

import pytest

from realbench import RealBenchError
from realbench.registry import Registry


def test_lazy_entry_is_imported_on_first_use():
    sys.modules.pop("json.decoder", None)
    registry = Registry("thing")
    registry.add_lazy("decoder", "json.decoder:JSONDecoder")
    assert "decoder" in registry and registry.names() == ["decoder"]
    import json.decoder

    assert registry.get("decoder") is json.decoder.JSONDecoder


def test_register_decorator_and_did_you_mean():
    registry = Registry("method")

    @registry.register("realfill")
    class RealFill:
        pass

    assert registry.get("realfill") is RealFill
    with pytest.raises(RealBenchError, match="unknown method 'realfil'. Did you mean 'realfill'"):
        registry.get("realfil")
    with pytest.raises(RealBenchError, match="cannot import method"):
        registry.get("no_such_module:Thing")
    assert registry.get("collections:OrderedDict").__name__ == "OrderedDict"
