"""The README cannot drift: its printed outputs are what the commands print now, and its
Python snippet runs as written (from any folder)."""
from readme_examples import README, blocks, command_output, run_python


def test_printed_outputs_are_current():
    found = [m for m in blocks(README.read_text()) if m.group(1) == "output of"]
    assert found
    for match in found:
        assert command_output(match.group(2)) == match.group(3), (
            f"README output of `{match.group(2)}` is stale; run: python tests/readme_examples.py --write")


def test_python_snippets_run_as_written():
    snippets = [m for m in blocks(README.read_text()) if m.group(1) == "python"]
    assert snippets
    for match in snippets:
        printed = run_python(match.group(3))
        assert "psnr" in printed and "mean" in printed
