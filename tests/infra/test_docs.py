"""The operator documentation shows what the commands do: `stack init`'s printed next steps are the workflow in
docs/tenant-stack.md, the Pulumi bootstrap comes before any `pulumi config set`, and no secret value is ever
written on a command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import stack_app

ROOT = Path(__file__).resolve().parents[2]
STACK_DOC = ROOT / "docs" / "tenant-stack.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path) -> list[list[str]]:
    """Each fenced block's commands: continuation lines joined, comments and blank lines dropped."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", "", block)
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]
        commands.append([line for line in lines if line and not line.startswith("#")])
    return commands


def test_stack_init_prints_the_documented_steps(tmp_path: Path) -> None:
    section = STACK_DOC.read_text(encoding="utf-8").split("## Operator workflow", 1)[1]
    (tmp_path / "doc.md").write_text(section.split("\n## ", 1)[0])
    workflow = next(block for block in code_blocks(tmp_path / "doc.md") if block[0].startswith("enclave stack init"))
    init, *documented = workflow
    args = shlex.split(init)[2:]  # after `enclave stack`
    result = CliRunner().invoke(stack_app, [*args, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    printed = result.stdout.split("next steps (docs/tenant-stack.md):\n", 1)[1].splitlines()
    assert [line.strip() for line in printed] == documented
    assert result.stderr == ""  # the example leaves nothing to warn about


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_pulumi_bootstrap_comes_before_any_config_set(doc: Path) -> None:
    for block in code_blocks(doc):
        sets = [i for i, line in enumerate(block) if "pulumi config set" in line]
        if not sets:
            continue
        logins = [i for i, line in enumerate(block) if re.match(r"pulumi login\b", line)]
        inits = [i for i, line in enumerate(block) if re.match(r"pulumi stack init\b", line)]
        assert logins and inits, f"{doc.name}: `pulumi config set` shown without `pulumi login` / `pulumi stack init`"
        assert max(logins[0], inits[0]) < sets[0] and logins[0] < inits[0], block


# `pulumi config set --secret [-s STACK] ns:key VALUE`: a value after the key (not a `<` redirect) is on the
# command line; so is a command substitution feeding it.
SECRET_ON_COMMAND_LINE = re.compile(
    r"pulumi config set --secret(?: -s \S+)? [\w-]+:\w+ (?!<)[^\s`]|\$\(\s*enclave audit keygen"
)


def test_no_secret_is_written_on_a_command_line() -> None:
    """The docs, the steps `stack init` prints and every help text of the command line."""
    places = [*DOCS, ROOT / "infra" / "stack_config.py", *sorted((ROOT / "enclave").rglob("*.py"))]
    offenders = []
    for path in places:
        text = re.sub(r"\\\n\s*", "", path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in SECRET_ON_COMMAND_LINE.finditer(text)]
    assert offenders == []
