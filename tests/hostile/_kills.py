"""Commands killed with SIGKILL at an exact point (a function of theirs replaced by one that
kills the process on its n-th call), started in the background early in the session so the
children's imports overlap the other tests; ``test_writes`` then reruns each and checks that the
rerun succeeds, equals an uninterrupted run and leaves no temp entry behind."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from ._support import python_env, zip_folder

KILLER = """
import importlib, os, signal, sys
modules, attribute, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
*path, name = attribute.split(".")
for module in modules.split(","):  # where the code lives now, or used to
    try:
        owner = importlib.import_module(module)
        for part in path:
            owner = getattr(owner, part)
        getattr(owner, name)
        break
    except (ImportError, AttributeError):
        continue
else:
    sys.exit(f"no {attribute} in any of {modules}: the fault point moved")
real, calls = getattr(owner, name), [0]
def die_at_nth(*args, **kwargs):
    calls[0] += 1
    if calls[0] >= nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(owner, name, die_at_nth)
from realbench.cli import main
sys.exit(main(sys.argv[4:]))
"""


class Kills:
    """The killed children (started at once) and the folders they worked in."""

    def __init__(self, root: Path, tiny_data: Path, shards: list[Path]):
        self.archive = zip_folder(root / "release.zip", tiny_data)
        self.places = {name: root / name for name in ("unpack", "merge", "merged", "report", "export")}
        for folder in self.places.values():
            folder.mkdir()
        places = self.places
        jobs = {
            # an unpack after its first entry
            "unpack": ("realbench.core.unzip,realbench.unzip", "_copy", 2, ["data", "info", "--data", self.archive],
                       {"REALBENCH_CACHE": str(places["unpack"])}),
            # a merge after its first image was copied into its staging folder
            "merge": ("shutil", "copyfile", 2, ["merge", *shards, "--out", places["merge"] / "merged"], {}),
            # a merge after its folder was renamed into place, while its table is printed
            "merged": ("realbench.commands,realbench.cli", "leaderboard", 1,
                       ["merge", *shards, "--out", places["merged"] / "merged"], {}),
            # a report after its files were staged, before the page is written
            "report": ("realbench.summarise.report,realbench.report", "render_page", 1,
                       ["report", shards[0], "--out", places["report"] / "page.html", "--no-self-contained"], {}),
            # an export after its parquet was written, before its card
            "export": ("realbench.data.hfdata,realbench.hfdata", "atomic_write_bytes", 1,
                       ["data", "export", "--data", tiny_data, "--to", places["export"] / "exported"], {}),
        }
        self.procs = {
            name: subprocess.Popen([sys.executable, "-c", KILLER, module, attribute, str(nth), *map(str, argv)],
                                   env=python_env(**extra_env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for name, (module, attribute, nth, argv, extra_env) in jobs.items()}

    def wait(self) -> dict[str, Path]:
        """Every child died of its SIGKILL (else the fault point moved); where each worked."""
        for name, proc in self.procs.items():
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == -signal.SIGKILL, (name, proc.returncode, err.decode()[-2000:])
        return {"archive": self.archive, **self.places}
