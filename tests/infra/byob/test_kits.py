"""The committed kits are what the generator writes: terraform-cdk is deprecated upstream, so the Terraform
JSON under kits/byob/ is the deliverable, and any difference from a fresh synthesis fails here (regenerate with
`python -m infra.byob`). Each cloud's bindings load once per test process (20-30 s each)."""

from __future__ import annotations

import pytest

from infra.byob.synth import KIT_FILES, KitCloud, build_kit
from tests.infra.byob.terraform_eval import KITS


@pytest.mark.parametrize("cloud", list(KitCloud), ids=[c.value for c in KitCloud])
def test_the_committed_kit_is_what_the_generator_writes(cloud: KitCloud) -> None:
    kit = build_kit(cloud)
    assert sorted(kit.files) == sorted(KIT_FILES)
    for name, text in kit.files.items():
        committed = (KITS / cloud.value / name).read_text(encoding="utf-8")
        assert text == committed, f"kits/byob/{cloud.value}/{name} differs: run python -m infra.byob {cloud.value}"


def test_the_kits_pin_terraform_cdk_and_their_providers() -> None:
    import json

    for cloud in KitCloud:
        kit = json.loads((KITS / cloud.value / "cdk.tf.json").read_text(encoding="utf-8"))
        assert kit["//"]["metadata"]["version"] == "0.21.0"
        assert kit["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
        [provider] = kit["terraform"]["required_providers"].values()
        assert provider["version"].count(".") == 2  # an exact version, as the bindings were generated for
