"""Scoring images made elsewhere does no avoidable per-image work: each file is read once for
scoring (hash and copy from the same bytes), a PNG that needs no new pixels is stored as it is,
records are appended per chunk, and reading runs ahead of scoring; every stored image still
holds exactly the pixels that were scored."""
import hashlib

import numpy as np
from PIL import Image

import realbench.methods.folder as folder_module
import realbench.run.runfolder as runfolder
from realbench import evaluate
from realbench.core.imageio import read_rgb
from realbench.run.records import RecordStore, read_record_dicts

SCENES = ["chelsea-defocus", "rocket-style"]


def _outputs(bench, root, n=3, fmt="png", mode="RGB"):
    for scene_id in SCENES:
        scene = bench[scene_id]
        (root / scene_id).mkdir(parents=True)
        for k in range(n):
            image = scene.gt.copy()
            noise = np.random.default_rng(k).integers(0, 256, image.shape, dtype=np.uint8)
            image[scene.mask] = noise[scene.mask]
            picture = Image.fromarray(image).convert(mode)
            picture.save(root / scene_id / f"{k}.{fmt}", quality=90) if fmt == "jpg" else picture.save(
                root / scene_id / f"{k}.{fmt}")


def _pixel_sha(image):
    return hashlib.sha256(image.tobytes()).hexdigest()[:16]


def test_a_png_needing_no_new_pixels_is_stored_byte_for_byte(sample_bench, tmp_path):
    _outputs(sample_bench, tmp_path / "made")
    run = evaluate(f"folder:{tmp_path / 'made'}", sample_bench, scenes=SCENES, metrics="psnr", select=False,
                   out=tmp_path / "run", progress=False)
    for record in read_record_dicts(run.run_dir / "records.jsonl"):
        source = tmp_path / "made" / record["scene"] / f"{record['sample']}.png"
        stored = run.run_dir / record["image"]
        assert stored.read_bytes() == source.read_bytes()
        assert record["image_sha256"] == _pixel_sha(read_rgb(stored))
        assert record["info"]["file_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()[:16]


def test_other_sources_are_encoded_and_keep_exactly_the_scored_pixels(sample_bench, tmp_path):
    _outputs(sample_bench, tmp_path / "jpg", fmt="jpg")
    _outputs(sample_bench, tmp_path / "rgba", mode="RGBA")
    for name, options in (("jpg", {}), ("rgba", {}), ("rgba", {"composite": True, "feather": 2})):
        out = tmp_path / f"run-{name}-{len(options)}"
        run = evaluate(f"folder:{tmp_path / name}", sample_bench, scenes=SCENES, metrics="psnr", select=False,
                       method_config=options, out=out, progress=False)
        for record in read_record_dicts(run.run_dir / "records.jsonl"):
            source = tmp_path / name / record["scene"] / f"{record['sample']}.{'jpg' if name == 'jpg' else 'png'}"
            stored = run.run_dir / record["image"]
            assert stored.read_bytes() != source.read_bytes()
            with Image.open(stored) as png:
                assert png.format == "PNG" and png.mode == "RGB"
            pixels = read_rgb(stored)
            assert record["image_sha256"] == _pixel_sha(pixels)
            if not options:
                np.testing.assert_array_equal(pixels, read_rgb(source))


def test_each_file_is_read_once_for_scoring_and_records_go_per_chunk(sample_bench, tmp_path, monkeypatch):
    _outputs(sample_bench, tmp_path / "made", n=4)
    reads, appends = [], []
    real_read, real_append = folder_module.read_image_file, RecordStore.append

    def counting_read(path, scene=None):
        reads.append(str(path))
        return real_read(path, scene)

    def counting_append(self, records):
        records = list(records)
        appends.append(len(records))
        return real_append(self, records)

    monkeypatch.setattr(folder_module, "read_image_file", counting_read)
    monkeypatch.setattr(RecordStore, "append", counting_append)
    spent = []
    monkeypatch.setattr(runfolder, "write_png", lambda *a, **k: spent.append(a))  # nothing needs encoding
    evaluate(f"folder:{tmp_path / 'made'}", sample_bench, scenes=SCENES, metrics="psnr", select=False,
             out=tmp_path / "run", progress=False)
    assert sorted(reads) == sorted(str(p) for p in (tmp_path / "made").rglob("*.png"))  # once each
    assert appends == [4, 4] and not spent  # one append per scene (its chunk), no PNG encoded


def test_reading_ahead_gives_the_same_images_as_reading_on_demand(sample_bench, tmp_path):
    _outputs(sample_bench, tmp_path / "made", n=3)
    method = folder_module.FolderMethod({"path": str(tmp_path / "made")})
    scene = sample_bench[SCENES[1]]
    method.prefetch(scene, [0, 1, 2])
    ahead = method.generate(scene, [0, 1, 2])
    again = folder_module.FolderMethod({"path": str(tmp_path / "made")}).generate(scene, [2, 0, 1])
    for a, b in zip(ahead, [again[1], again[2], again[0]]):
        np.testing.assert_array_equal(a.image, b.image)
        assert a.info == b.info and a.encoded == b.encoded
