"""Run the generator for one cloud and write the kit: `cdk.tf.json` (what cdktf synthesizes), `README.md` (built
from that JSON and the cloud's notes) and `checkov.yaml` (the checks the kit's resources declare skipped).

Only the chosen cloud's module is imported: each set of provider bindings costs 20-60 s to load into Node on
this machine. The kit does not depend on the tenant, so `enclave byob synth` reuses a kit made by the same
generator source and pinned versions (cached_kit); the first run per cloud pays the load.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any, cast

KIT_FILE = "cdk.tf.json"
README_FILE = "README.md"
CHECKOV_FILE = "checkov.yaml"
KIT_FILES = (KIT_FILE, README_FILE, CHECKOV_FILE)


class KitCloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


BINDING_DISTRIBUTIONS = {KitCloud.AWS: "aws", KitCloud.GCP: "google", KitCloud.AZURE: "azurerm"}


@dataclass(frozen=True)
class Kit:
    cloud: KitCloud
    files: dict[str, str]  # file name -> text

    @property
    def terraform(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.files[KIT_FILE]))

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.files.items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written


def synthesize_terraform(cloud: KitCloud) -> str:
    """The Terraform JSON for `cloud` as cdktf writes it, with each block's annotations merged in."""
    from cdktf import App

    from infra.byob.terraform import KitStack

    build = cast(Callable[[KitStack], None], importlib.import_module(f"infra.byob.{cloud.value}").build)
    with tempfile.TemporaryDirectory(prefix="enclave-byob-") as outdir:
        app = App(outdir=outdir, stack_traces=False)
        stack = KitStack(app, cloud.value)
        build(stack)
        app.synth()
        synthesized = json.loads((Path(outdir) / "stacks" / stack.node.id / KIT_FILE).read_text(encoding="utf-8"))
    return json.dumps(annotate_blocks(synthesized, stack.annotations), indent=2, sort_keys=True) + "\n"


def annotate_blocks(
    terraform: dict[str, Any], annotations: dict[tuple[str, str, str], dict[str, Any]]
) -> dict[str, Any]:
    """Merge each block's purpose and checkov skips into its `//` field; every block must have a purpose."""
    for kind in ("resource", "data"):
        for type_, blocks in terraform.get(kind, {}).items():
            for name, block in blocks.items():
                note = annotations.get((kind, type_, name))
                if note is None:
                    raise ValueError(f"{kind} {type_}.{name} has no purpose: annotate it in its kit module")
                block["//"] = {**block.get("//", {}), **note}
    return terraform


def declared_skips(terraform: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(block address, check id, reason) for every checkov skip the kit's resources and data sources declare."""
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for type_, blocks in terraform.get(kind, {}).items():
            for name, block in blocks.items():
                for skip in block.get("//", {}).get("checkov", {}).get("skip", []):
                    yield f"{prefix}{type_}.{name}", skip["id"], skip["comment"]


def checkov_config(terraform: dict[str, Any]) -> str:
    """checkov reads no skips from Terraform JSON, so the kit ships them as a config file (with their reasons)."""
    lines = [
        "# checkov -d . --framework terraform_json --config-file checkov.yaml",
        "# Each check below is skipped for the resources named here only; the reason is also written next to the",
        '# resource in cdk.tf.json (its "//" field). Generated with the kit: do not edit.',
        "skip-check:",
    ]
    by_check: dict[str, list[str]] = {}
    for address, check, reason in declared_skips(terraform):
        by_check.setdefault(check, []).append(f"{address}: {reason}")
    for check in sorted(by_check):
        lines += [f"  # {why}" for why in by_check[check]]
        lines.append(f"  - {check}")
    return "\n".join(lines) + "\n"


def build_kit(cloud: KitCloud) -> Kit:
    from infra.byob.readme import render_readme

    text = synthesize_terraform(cloud)
    terraform = json.loads(text)
    return Kit(
        cloud,
        {KIT_FILE: text, README_FILE: render_readme(cloud, terraform), CHECKOV_FILE: checkov_config(terraform)},
    )


def generator_fingerprint(cloud: KitCloud) -> str:
    """What a kit depends on: the generator's source and the pinned terraform-cdk and binding versions. The
    output is a pure function of these (tests/infra/byob/test_kits.py), so a kit made once can be reused."""
    digest = hashlib.sha256(cloud.value.encode())
    for dist in ("cdktf", f"cdktf-cdktf-provider-{BINDING_DISTRIBUTIONS[cloud]}"):
        digest.update(f"{dist}=={metadata.version(dist)}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def cache_root() -> Path:
    configured = os.environ.get("ENCLAVE_BYOB_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "enclave" / "byob"


def cached_kit(cloud: KitCloud) -> tuple[Kit, bool]:
    """The kit, from the cache when the generator and its pins are unchanged (True), else freshly synthesized
    and cached (False). A cache entry whose files do not match its manifest is ignored and rewritten."""
    entry = cache_root() / generator_fingerprint(cloud)
    manifest = entry / "manifest.json"
    try:
        hashes = json.loads(manifest.read_text(encoding="utf-8"))
        files = {name: (entry / name).read_text(encoding="utf-8") for name in KIT_FILES}
        if hashes == {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}:
            return Kit(cloud, files), True
    except (OSError, ValueError):
        pass
    kit = build_kit(cloud)
    try:
        kit.write(entry)
        manifest.write_text(
            json.dumps({name: hashlib.sha256(text.encode()).hexdigest() for name, text in kit.files.items()}),
            encoding="utf-8",
        )
    except OSError:
        pass  # an unwritable cache only costs the next run its speed
    return kit, False
