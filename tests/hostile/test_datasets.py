"""Issue 19, root cause 3: Hugging Face dataset input skipped the folder checks. A dataset row
goes through the same validation as a scene folder (task, binary mask, bit depth, channels, the
pixel limit from the encoded header) and gives the same numbers for the same images; a dataset is
read from its own files, never from a cache keyed by its folder's name. Each hostile dataset is
made with ``realbench data export`` and then altered with pyarrow."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ._support import assert_ok, assert_refused, bomb_png, changes, copy_tree, png_bytes, snapshot, sparse


def _parquet(folder: Path) -> Path:
    return next(folder.glob("data/*.parquet"))


def altered(source: Path, target: Path, change) -> Path:
    """A copy of the exported dataset ``source`` whose rows ``change(rows)`` rewrote (a list of
    row dicts, or a pyarrow Table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    copy_tree(source, target)
    file = _parquet(target)
    table = pq.read_table(file)
    rows = change(table.to_pylist())
    pq.write_table(rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=table.schema), file)
    return target


def cell(data: bytes) -> dict:
    return {"bytes": data, "path": None}


def _set(key, value, row=0):
    def change(rows):
        rows[row][key] = value(rows) if callable(value) else value
        return rows
    return change


def _grey_gradient():
    return cell(png_bytes(np.tile(np.linspace(0, 255, 40).astype(np.uint8), (32, 1))))


def _grey_hole_mask(rows):
    """Row 0's hole (s1: inside the image) painted grey, 100 and 200: no pixel white."""
    import io

    mask = np.asarray(Image.open(io.BytesIO(rows[0]["mask"]["bytes"]))).copy()
    hole = mask > 0
    mask[hole] = 100
    mask[hole & (np.indices(mask.shape)[1] % 2 == 0)] = 200
    return cell(png_bytes(mask))


def _column(name, values):
    def change(rows):
        import pyarrow as pa

        table = pa.Table.from_pylist(rows)
        return table.set_column(table.schema.get_field_index(name), name, pa.array(values))
    return change


def _drop(name):
    def change(rows):
        import pyarrow as pa

        return pa.Table.from_pylist(rows).drop([name])
    return change


REFUSED = {
    "unknown-task": (_set("task", "bogus"), ("task 'bogus'",)),
    "non-binary-mask": (_set("mask", _grey_gradient()), ("not binary",)),
    "bomb-target-400MP": (_set("target", cell(bomb_png())), ("20000x20000", "--max-pixels")),
    "bomb-reference-400MP": (_set("refs", [cell(bomb_png())]), ("20000x20000",)),
    "bomb-mask": (_set("mask", cell(bomb_png(30000, 30000))), ("30000x30000",)),
    "junk-image-bytes": (_set("gt", cell(b"not an image at all")), ("cannot read image",)),
    "a-path-instead-of-bytes": (_set("target", {"bytes": None, "path": "/etc/hostname"}), ("no image bytes",)),
    "no-references": (_set("refs", []), ("no reference",)),
    "missing-ground-truth": (_set("gt", None), ("ground truth",)),
    "mask-of-another-size": (_set("mask", cell(png_bytes(np.zeros((10, 10), np.uint8)))), ("10x10",)),
    "id-with-a-separator": (_set("id", "../escape"), ("separator",)),
    "id-with-an-osc-sequence": (_set("id", "s\x1b]0;title\x07"), ("control characters",)),
    "two-rows-one-id": (_set("id", "s2"), ("same id",)),
    "two-ids-nfc-and-nfd": (lambda rows: [{**rows[0], "id": "caf\u00e9"}, {**rows[1], "id": "cafe\u0301"}],
                            ("same id up to case or unicode normal form",)),
    "task-outpaint-for-an-interior-hole": (_set("task", "outpaint"), ("task 'outpaint' is declared", "s1", "border")),
    "task-inpaint-for-a-border-hole": (_set("task", "inpaint", row=1), ("task 'inpaint' is declared", "s2")),
    "mask-hole-all-grey": (_set("mask", _grey_hole_mask), ("not binary", "non-black", "s1")),
    "text-column-for-images": (_column("target", ["x", "y"]), ("no image bytes",)),
    "no-mask-column": (_drop("mask"), ("lacks columns", "mask")),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_hostile_dataset_row_is_refused_like_a_scene_folder(case, tmp_path, parquet_export, run):
    change, needles = REFUSED[case]
    dataset = altered(parquet_export, tmp_path / "dataset", change)
    out = tmp_path / "run"
    before = snapshot(tmp_path)
    error = assert_refused(run("evaluate", "--method", "telea", "--data", dataset, "--out", out), *needles)
    assert str(dataset) in error
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("damage", ["truncated", "sparse-6GB", "not-parquet"])
def test_a_damaged_parquet_file_is_one_error(damage, tmp_path, parquet_export, run):
    dataset = copy_tree(parquet_export, tmp_path / "dataset")
    file = _parquet(dataset)
    if damage == "truncated":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif damage == "sparse-6GB":
        sparse(file, 6 * 2**30, b"PAR1")
    else:
        file.write_bytes(b"id,task\ns1,inpaint\n")
    assert_refused(run("data", "info", "--data", dataset), str(dataset))


def test_a_dataset_without_rows_is_refused(tmp_path, parquet_export, run):
    dataset = altered(parquet_export, tmp_path / "dataset", lambda rows: [])
    out = tmp_path / "run"
    assert_refused(run("evaluate", "--method", "telea", "--data", dataset, "--out", out), str(dataset))
    assert not out.exists()


def test_a_row_without_an_id_is_refused(tmp_path, parquet_export, run):
    dataset = altered(parquet_export, tmp_path / "dataset", _set("id", None))
    assert_refused(run("data", "info", "--data", dataset), "id")


def test_a_second_dataset_of_the_same_name_is_read_from_its_own_files(tmp_path, parquet_export, run):
    """Two folders named alike: the second's corrupt target is found, not served from the first."""
    first = copy_tree(parquet_export, tmp_path / "a" / "bench")
    second = altered(parquet_export, tmp_path / "b" / "bench", _set("target", cell(b"corrupt")))
    assert_ok(run("evaluate", "--method", "telea", "--data", first, "--out", tmp_path / "run-a"))
    assert_refused(run("evaluate", "--method", "telea", "--data", second, "--out", tmp_path / "run-b"),
                   str(second), "target")
    assert not (tmp_path / "run-b").exists()


def _means(run_dir: Path) -> dict[str, tuple[str, str]]:
    with open(run_dir / "summary.csv", newline="") as handle:
        return {row["scene"]: (row["psnr"], row["ssim"]) for row in csv.DictReader(handle)}


def _sixteen_bit(folder: Path) -> None:
    """Every scene's ground truth as a 16-bit grey PNG (values x257: the 8-bit grey, scaled)."""
    for gt in folder.glob("*/target/gt.png"):
        grey = np.asarray(Image.open(gt).convert("L")).astype(np.uint16) * 257
        Image.fromarray(grey).save(gt)
        assert Image.open(gt).mode == "I;16"


def _grey_references(folder: Path) -> None:
    for ref in folder.glob("*/ref/*.jpg"):
        Image.open(ref).convert("L").save(ref.with_suffix(".png"))
        ref.unlink()


@pytest.mark.parametrize("variant", ["16-bit-ground-truth", "grey-references"])
def test_a_dataset_gives_the_numbers_of_the_same_files_in_a_folder(variant, tmp_path, tiny_data, run):
    """The same image bytes in a dataset cell and in a scene folder: the same pixels (16-bit
    scaled, not clipped; grey made RGB), the same data checksum, the same PSNR and SSIM, and the
    two runs rank together without --allow-mixed-data."""
    folder = copy_tree(tiny_data, tmp_path / "folder")
    (_sixteen_bit if variant.startswith("16") else _grey_references)(folder)
    exported = tmp_path / "exported"
    assert_ok(run("data", "export", "--data", folder, "--to", exported))
    key, files = ("gt", lambda s: [folder / s / "target/gt.png"]) if variant.startswith("16") else \
        ("refs", lambda s: sorted((folder / s / "ref").glob("*.png")))

    def original_bytes(rows):
        for row in rows:
            cells = [cell(f.read_bytes()) for f in files(row["id"])]
            row[key] = cells[0] if key == "gt" else cells
        return rows

    dataset = altered(exported, tmp_path / "dataset", original_bytes)
    before = snapshot(tmp_path)
    assert_ok(run("evaluate", "--method", "telea", "--data", folder, "--out", tmp_path / "from-folder"))
    assert changes(before, snapshot(tmp_path, exclude=[tmp_path / "from-folder"])) == []
    assert_ok(run("evaluate", "--method", "homography-warp", "--data", dataset, "--out", tmp_path / "hw-dataset"))
    assert_ok(run("evaluate", "--method", "telea", "--data", dataset, "--out", tmp_path / "from-dataset"))
    assert _means(tmp_path / "from-folder") == _means(tmp_path / "from-dataset")
    assert_ok(run("leaderboard", tmp_path / "from-folder", tmp_path / "from-dataset"))


def test_an_arrow_dataset_row_goes_through_the_same_checks(tmp_path, tiny_data, run):
    """The ``save_to_disk`` form read back through ``datasets``: an unknown task is refused too."""
    import datasets

    saved = tmp_path / "arrow"
    assert_ok(run("data", "export", "--data", tiny_data, "--to", saved, "--format", "arrow"))
    changed = datasets.load_from_disk(str(saved)).map(lambda row, i: {"task": "sideways" if i == 0 else row["task"]},
                                                       with_indices=True)
    bad = tmp_path / "arrow-bad"
    changed.save_to_disk(str(bad))
    assert_refused(run("evaluate", "--method", "telea", "--data", bad, "--out", tmp_path / "run"), "sideways")
    assert not (tmp_path / "run").exists()


def test_reading_an_arrow_export_writes_nothing_beside_it(tmp_path, tiny_data, run):
    """``data info`` and ``evaluate`` read a ``save_to_disk`` folder as it is: no ``cache-*.arrow``
    copy of it (nor anything else) appears in the user's folder."""
    saved = tmp_path / "arrow"
    assert_ok(run("data", "export", "--data", tiny_data, "--to", saved, "--format", "arrow"))
    before = snapshot(saved)
    assert_ok(run("data", "info", "--data", saved))
    assert_ok(run("evaluate", "--method", "telea", "--data", saved, "--out", tmp_path / "run"))
    assert changes(before, snapshot(saved)) == []


def test_an_arrow_dataset_task_that_contradicts_the_mask_is_refused(tmp_path, tiny_data, run):
    import datasets

    saved = tmp_path / "arrow"
    assert_ok(run("data", "export", "--data", tiny_data, "--to", saved, "--format", "arrow"))
    changed = datasets.load_from_disk(str(saved)).map(lambda row: {"task": "outpaint"})
    bad = tmp_path / "arrow-bad"
    changed.save_to_disk(str(bad))
    assert_refused(run("data", "info", "--data", bad), "scene 's1'", str(bad), "task 'outpaint' is declared")
