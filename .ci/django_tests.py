"""Unpack the installed Django's own session tests (from its sdist) into a folder.

Django's wheel ships no tests; the compatibility suite in tests/ runs
Django's ``sessions_tests`` against our engine, so it needs the sdist of the
exact installed version.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django


def main(target: Path) -> None:
    version = django.__version__
    marker = target / f".django-{version}"
    if marker.exists():
        return
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                download,
                f"django=={version}",
            ],
            check=True,
        )
        (sdist,) = Path(download).glob("*.tar.gz")
        with tarfile.open(sdist) as archive:
            members = [
                m for m in archive.getmembers() if "/tests/sessions_tests/" in m.name
            ]
            for member in members:
                member.name = member.name.split("/tests/", 1)[1]
            target.mkdir(parents=True, exist_ok=True)
            archive.extractall(target, members=members, filter="data")
    marker.touch()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
