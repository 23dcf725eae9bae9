"""YAML for settings (``--config FILE``, ``--set key=value``), bounded.

YAML aliases let a 1 KB file describe a structure of 9^9 values: PyYAML builds it cheaply as shared
references, and whatever walks it afterwards (merging settings, printing an error) runs for hours.
The composed document's expanded size is counted first (shared nodes counted once per use, without
expanding them) and a document above ``MAX_VALUES`` is refused, as is a file above ``MAX_BYTES``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import RealBenchError, describe

MAX_BYTES = 1 * 2**20  # a settings file is a few hundred bytes
MAX_VALUES = 100_000  # scalars, sequences and mappings, aliases expanded


_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: a 1 MiB file in well under a second


class _Loader(_BASE):
    """PyYAML's safe loader that refuses a mapping holding one key twice (the last would silently
    win) and reads ``1e5`` and ``1.0e308`` as numbers (YAML 1.2), as a user means them."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:  # the keys written here (a merged mapping's may be overridden)
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in keys:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice",
                                                        key_node.start_mark)
            keys.add(key) if isinstance(key, (str, int, float, bool)) else None
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<: *base), as the safe loader does
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+|[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$"),
    list("-+0123456789."))


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a node that contains itself (a recursive alias) counts once, then grows below
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[key] = total
    return total


def _is_recursive(node: yaml.Node, visiting: set[int], done: set[int]) -> bool:
    """Whether a node contains itself (depth-first, each shared node explored once)."""
    if id(node) in done:
        return False
    if id(node) in visiting:
        return True
    children = node.value if isinstance(node, yaml.SequenceNode) else (
        [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
    visiting.add(id(node))
    found = any(_is_recursive(child, visiting, done) for child in children)
    visiting.discard(id(node))
    done.add(id(node))
    return found


def load_yaml(text: str, what: str, path: str | None = None) -> Any:
    """Parse ``text`` with PyYAML's safe loader, refusing documents that expand past the budget."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise RealBenchError(f"{what} is larger than {MAX_BYTES // 2**20} MiB: not a settings file", path=path)
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses characters YAML cannot hold: inside the try
        node = loader.get_single_node()
        if node is None:
            return None
        if _is_recursive(node, set(), set()):
            raise RealBenchError(f"{what} refers to itself through a YAML alias", path=path)
        memo: dict[int, int] = {}
        size = _expanded_size(node, memo)
        if size > MAX_VALUES:
            how = (f"holds {size:,} values" if len(memo) == size else
                   f"expands to {size:,} values through YAML aliases ({len(memo):,} written)")
            raise RealBenchError(f"{what} {how}; the limit is {MAX_VALUES:,}: not a settings file", path=path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise RealBenchError(f"cannot parse YAML in {what} ({describe(exc, 200)})", path=path) from None
    except UnicodeError:  # libyaml reads UTF-8: text holding a lone surrogate cannot be YAML
        raise RealBenchError(f"{what} holds characters that are not valid text", path=path) from None
    except RecursionError:
        raise RealBenchError(f"{what} is nested too deeply", path=path) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: str | Path, what: str) -> Any:
    """A settings file: bounded in size before it is read (``/dev/zero`` costs nothing)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise RealBenchError(f"{what} is missing or not a regular file", path=str(path))
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RealBenchError(f"cannot read {what} ({exc.strerror or exc})", path=str(path)) from None
    if len(data) > MAX_BYTES:
        raise RealBenchError(f"{what} is larger than {MAX_BYTES // 2**20} MiB: not a settings file", path=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RealBenchError(f"{what} is not UTF-8 text (expected a YAML mapping of settings)",
                             path=str(path)) from None
    return load_yaml(text, what, str(path))
