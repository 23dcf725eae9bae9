"""Issue 19, root cause 2: YAML that expands without bound (alias bombs), settings files that are
not files, and error messages that print a hostile value whole. Every case is one bounded error
line within a second, before any output folder exists; a config with a few aliases still works."""
from __future__ import annotations

import json
import os
import time

import pytest

from ._support import assert_ok, assert_refused, changes, snapshot, sparse


def _alias_levels(levels: int = 9, width: int = 9, mapping: bool = False) -> list[str]:
    """``a0 .. a{levels-1}``, each ``width`` uses of the one before: width**levels leaves."""
    def body(i: int) -> str:
        item = "x" if i == 0 else f"*a{i - 1}"
        return ("{" + ", ".join(f"k{j}: {item}" for j in range(width)) + "}") if mapping else \
            ("[" + ", ".join([item] * width) + "]")
    return [f"a{i}: &a{i} {body(i)}" for i in range(levels)]


def _flow_bomb(levels: int = 7) -> str:
    """An alias bomb on one line (a ``--set`` value): a list of anchored lists of aliases."""
    parts = ["&a0 [" + ", ".join(["x"] * 9) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


CONFIGS = {
    "list-bomb": "\n".join(_alias_levels()) + "\n",
    "mapping-bomb": "\n".join(_alias_levels(mapping=True)) + "\n",
    "bomb-as-a-setting-value": "\n".join(_alias_levels(8)) + "\nradius: *a7\n",
    "small-list-bomb-as-radius": "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "radius: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "recursive-alias": "r: &r [*r]\n",
    "deep-nesting": "radius: " + "[" * 5_000 + "]" * 5_000 + "\n",
    "deep-mapping": "radius: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "python-tag": "radius: !!python/object/apply:os.system ['echo pwned']\n",
    "weights-a-list": "weights: [alexnet, lpips]\n",
    "a-list-not-a-mapping": "- radius\n- 3\n",
    "unknown-setting": "radius: 3\nfeathr: 2\n",
    "flat-and-huge": "".join(f"k{i}: {i}\n" for i in range(60_000)),
}
NEEDLES = {"list-bomb": "through YAML aliases", "mapping-bomb": "through YAML aliases",
           "flat-and-huge": "holds 120,001 values"}  # a file without aliases is not called an alias bomb


@pytest.mark.parametrize("case", list(CONFIGS))
def test_a_hostile_config_is_one_bounded_error(case, tmp_path, tiny_data, run):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIGS[case])
    out = tmp_path / "run"
    started = time.perf_counter()
    result = run("evaluate", "--method", "telea", "--data", tiny_data, "--config", config, "--out", out)
    assert time.perf_counter() - started < 5
    error = assert_refused(result, max_len=400)
    assert NEEDLES.get(case, "") in error
    assert not out.exists()


@pytest.mark.parametrize("flag, value", [
    ("--set", "radius=" + _flow_bomb()),
    ("--set", "radius=[&a [1, 2, 3, 4, 5, 6, 7, 8, 9], *a, *a, *a, *a, *a, *a, *a, *a]"),
    ("--metric-set", "psnr.cap=" + _flow_bomb()),
    ("--set", "radius=" + "[" * 3_000 + "]" * 3_000),
])
def test_a_hostile_flag_value_is_one_bounded_error(flag, value, tmp_path, tiny_data, run):
    out = tmp_path / "run"
    started = time.perf_counter()
    result = run("evaluate", "--method", "telea", "--data", tiny_data, flag, value, "--out", out)
    assert time.perf_counter() - started < 5
    assert_refused(result, max_len=400)
    assert not out.exists()


def _fifo(path):
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make", [
    lambda tmp: "/dev/zero",
    lambda tmp: "/dev/null",
    lambda tmp: _fifo(tmp / "pipe.yaml"),  # reading it would block forever
    lambda tmp: sparse(tmp / "huge.yaml", 6 * 2**30, b"radius: 3\n"),
    lambda tmp: tmp,  # a folder
    lambda tmp: tmp / "missing.yaml",
], ids=["dev-zero", "dev-null", "fifo", "sparse-6GB", "folder", "missing"])
def test_a_config_that_is_no_settings_file_is_refused_without_reading_it(make, tmp_path, tiny_data, run):
    config = make(tmp_path)
    out = tmp_path / "run"
    started = time.perf_counter()
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--config", config, "--out", out),
                   str(config))
    assert time.perf_counter() - started < 5
    assert not out.exists()



@pytest.mark.parametrize("text", ["radius: 3\x07\n", "radius: 3\x00\n", "radius: '\x1b]0;title\x07'\n"],
                         ids=["bell", "nul", "osc-sequence"])
def test_a_config_holding_a_control_character_is_one_error(text, tmp_path, tiny_data, run):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--config", config, "--out", out),
                   "config.yaml")
    assert not out.exists()


@pytest.mark.parametrize("args, refused", [
    (["evaluate", "--method", "telea", "--set", "radius=\x07"], True),
    (["evaluate", "--method", "telea", "--metric-set", "psnr.cap=\x1b]0;x\x07"], True),
    (["evaluate", "--method", "telea", "--weights", "alexnet=\x1b[31m", "--metrics", "psnr"], False),
], ids=["set", "metric-set", "weights"])
def test_a_flag_value_holding_a_control_character_is_no_traceback(args, refused, tmp_path, tiny_data, run):
    """A value that is no YAML is taken as text (a weights path may be anything): refused where
    the setting needs a number or does not exist, else accepted; a traceback never."""
    result = run(*args, "--data", tiny_data, "--out", tmp_path / "run")
    if refused:
        assert_refused(result)
        assert not (tmp_path / "run").exists()
    else:
        assert_ok(result)
        assert "\x1b" not in result.out + result.err  # shown, if at all, escaped


def test_a_config_with_a_few_aliases_and_a_merge_key_works(tmp_path, tiny_data, run):
    """The bound is not too tight: anchors, aliases and a merge key, as people write them."""
    config = tmp_path / "config.yaml"
    config.write_text("defaults: &defaults {radius: 3, feather: 1}\n"
                      "<<: *defaults\n"
                      "feather: &f 2\n")
    # a config is a mapping of settings: the 'defaults' helper key is not one
    assert_refused(run("evaluate", "--method", "telea", "--data", tiny_data, "--config", config, "--out",
                       tmp_path / "refused"), "defaults")
    config.write_text("<<: &defaults {radius: 3, feather: 1}\nfeather: &f 2\n")
    out_config, out_flags = tmp_path / "by-config", tmp_path / "by-flags"
    before = snapshot(tmp_path)
    assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--config", config, "--out", out_config))
    assert changes(before, snapshot(tmp_path, exclude=[out_config])) == []  # nothing beside its output
    assert_ok(run("evaluate", "--method", "telea", "--data", tiny_data, "--set", "radius=3", "--set", "feather=2",
                  "--out", out_flags))
    by_config = json.loads((out_config / "run.json").read_text())
    assert by_config["config"] == {"radius": 3, "feather": 2}
    assert by_config["config_hash"] == json.loads((out_flags / "run.json").read_text())["config_hash"]
