"""Registries: lazy entries, did-you-mean, module:attr for users' own implementations."""
import sys

import pytest

from realbench import RealBenchError, RealBenchWarning
from realbench.core.registry import Registry


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


def test_discovery_registers_each_plugin_file_and_survives_a_broken_one(tmp_path, monkeypatch):
    package = tmp_path / "myplugins"
    package.mkdir()
    (package / "__init__.py").write_text("from realbench.registry import Registry\n"
                                         "THINGS = Registry('thing', package='myplugins')\n")
    (package / "good.py").write_text("from myplugins import THINGS\n\n@THINGS.register('good')\nclass Good:\n"
                                     "    pass\n")
    (package / "broken.py").write_text("import no_such_dependency_here\n")
    (package / "_private.py").write_text("raise SystemExit('private modules are not plugins')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from myplugins import THINGS

    with pytest.warns(RealBenchWarning, match="myplugins.broken failed to import .*no_such_dependency_here"):
        assert THINGS.names() == ["good"]
    assert THINGS.get("good").__name__ == "Good"
    with pytest.raises(RealBenchError, match="unknown thing 'bad'.*Failed to import: myplugins.broken"):
        THINGS.get("bad")
