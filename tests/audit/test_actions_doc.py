"""docs/audit.md lists exactly the action catalogue, with the same descriptions and OCSF classes."""

import re
from pathlib import Path

from audit.actions import ACTIONS
from audit.export.ocsf import ACTIVITIES, OCSF_CLASSES

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
ROW = re.compile(r"^\| `(?P<name>[a-z0-9.]+)` \| (?P<description>.+?) \| (?P<ocsf>[^|]+?) \| (?P<activity>[^|]+?) \|$")


def _documented_actions() -> dict[str, dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Actions\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, dict[str, str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            assert match["name"] not in rows, f"{match['name']} is listed twice"
            rows[match["name"]] = match.groupdict()
    return rows


def test_doc_lists_exactly_the_catalogue() -> None:
    documented = _documented_actions()
    assert sorted(documented) == sorted(ACTIONS)


def test_doc_descriptions_and_ocsf_mapping_match_the_code() -> None:
    for name, row in _documented_actions().items():
        info = ACTIONS[name]
        event_class = OCSF_CLASSES[info.ocsf]
        activity_id, activity_name = ACTIVITIES[name]
        assert row["description"] == info.description, name
        assert row["ocsf"] == f"{event_class.name} ({event_class.uid})", name
        assert row["activity"] == f"{activity_name} ({activity_id})", name
