"""Regenerate the committed kits: `python -m infra.byob [aws|gcp|azure ...]` writes kits/byob/<cloud>/.
tests/infra/byob/test_kits.py fails when the committed files differ from what this writes."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.byob.synth import KitCloud, build_kit

KITS = Path(__file__).resolve().parents[2] / "kits" / "byob"


def main(argv: list[str]) -> None:
    for cloud in [KitCloud(a) for a in argv] or list(KitCloud):
        for path in build_kit(cloud).write(KITS / cloud.value):
            print(path.relative_to(KITS.parents[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
