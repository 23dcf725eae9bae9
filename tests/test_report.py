"""The HTML report: valid markup, every image and link resolves, the leaderboard numbers match."""
import base64
import io
from html.parser import HTMLParser

import pytest
from PIL import Image

from realbench import evaluate, leaderboard
from realbench.cli import main

VOID = {"img", "meta", "br", "hr", "link", "input", "col"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.links, self.alts = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            self.alts.append(attrs.get("alt", ""))
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def two_runs(sample_bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("report-runs")
    scenes = ["chelsea-defocus", "rocket-style", "motorcycle-stereo"]
    a = evaluate("telea", sample_bench, scenes=scenes, out=root / "telea", progress=False).run_dir
    b = evaluate("slow_method:SlowNoisyTelea", sample_bench, scenes=scenes, samples=3, method_config={"delay": 0},
                 out=root / "noisy", progress=False).run_dir
    return [a, b]


def test_report_is_valid_html_and_every_image_and_link_resolves(two_runs, tmp_path, capsys):
    out = tmp_path / "site" / "report.html"
    assert main(["report", *map(str, two_runs), "--out", str(out), "--by", "ssim"]) == 0
    checker = Checker()
    text = out.read_text()
    checker.feed(text)
    checker.close()
    assert not checker.errors and checker.stack == []
    assert text.startswith("<!DOCTYPE html>")
    assert len(checker.images) >= 3 * (2 + 2 + 3) + 4  # scene pictures, samples, plots
    assert all(alt and "<" not in alt and ">" not in alt for alt in checker.alts)  # plain text for screen readers
    assert any("; " in alt for alt in checker.alts)  # a caption's line break
    for src in checker.images:
        assert src.startswith("data:image/")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    assert checker.links and all(href.startswith("data:image/jpeg;base64,") for href in checker.links)  # embedded
    for href in checker.links:
        Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))).verify()
    assert not (out.parent / "report_files").exists()
    assert "self-contained" in capsys.readouterr().out
    # the leaderboard shown is the leaderboard
    table = leaderboard(two_runs)
    assert f"{table.loc[0, 'psnr']:.4g}" in text


def test_report_best_and_worst_follow_the_metric_direction(two_runs, tmp_path):
    from realbench.summarise.report import build_report
    from realbench.summarise.tables import load_records

    out = build_report(two_runs, tmp_path / "r.html", by="psnr").path
    records = load_records(two_runs[1])
    scene = records[records["scene"] == "rocket-style"].sort_values("psnr")
    text = out.read_text()
    best = f"best (sample {int(scene.iloc[-1]['sample'])}"
    worst = f"worst (sample {int(scene.iloc[0]['sample'])}"
    section = text[text.index("id='rocket-style'"):]
    section = section[section.index("slow_method"):]
    assert section.index(best) < section.index(worst)
    ranked = scene.sort_values(["correspondences", "sample"], ascending=[False, True])
    assert f"top-ranked (sample {int(ranked.iloc[0]['sample'])}" in section
    assert f"{int(ranked.iloc[0]['correspondences'])} correspondences" in section


def test_report_rejects_unknown_metric(two_runs, tmp_path, capsys):
    assert main(["report", str(two_runs[0]), "--out", str(tmp_path / "x.html"), "--by", "fid"]) == 2
    assert "no such metric" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
