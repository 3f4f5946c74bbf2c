"""`enclave audit verify`: offline checks with nothing but the public key (and the key history): an export (JSONL
with its proof, or CSV / OCSF with its trailer), that one export extends an earlier one, or a single proof."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from enclave.cli.audit.app import audit_app
from enclave.cli.common import JsonOption, console, errors, fail, print_json, usage

MAX_SHOWN = 100


def read_file(path: Path, what: str) -> bytes:
    if not path.is_file():
        fail(f"{path}: no such file")
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}")


def load_public_keys(paths: list[Path]) -> list[Any]:
    """The Ed25519 public keys in these PEM files (one line and exit 1 for a file that is not one)."""
    from audit.signing import SigningKeyError, load_public_key

    keys = []
    for path in paths:
        raw = read_file(path, "the public key")
        try:
            keys.append(load_public_key(raw.decode("utf-8")))
        except (SigningKeyError, UnicodeDecodeError) as exc:
            fail(f"{path}: {exc if isinstance(exc, SigningKeyError) else 'not a PEM text file'}")
    return keys


def trusted_keys(public_keys: list[Path], key_history: Path | None) -> Any:
    """TrustedKeys from the PEM files (and the key history, whose entries must chain to one of them)."""
    import orjson

    from audit.keys import KeyHistoryError, TrustedKeys, parse_history

    keys = load_public_keys(public_keys)
    if key_history is None:
        return TrustedKeys(keys)
    try:
        return TrustedKeys(keys, parse_history(orjson.loads(read_file(key_history, "the key history"))))
    except orjson.JSONDecodeError:
        fail(f"{key_history}: not JSON (expected the output of `enclave audit key-history`)")
    except KeyHistoryError as exc:
        fail(f"{key_history}: {exc}")


def _is_jsonl_export(path: Path) -> bool:
    with path.open("rb") as handle:
        return b'"type":"header"' in handle.readline()


def _report_problems(problems: list[str]) -> None:
    errors.print(f"[bold red]FAILED[/]: {len(problems)} problem(s)")
    for problem in problems[:MAX_SHOWN]:
        errors.print(f"  {problem}", highlight=False, markup=False)
    if len(problems) > MAX_SHOWN:
        errors.print(f"  ... and {len(problems) - MAX_SHOWN} more")


def _export_problems(report: Any) -> list[str]:
    return [
        f"line {p.line}" + (f", record {p.seq}" if p.seq is not None else "") + f": {p.kind}: {p.message}"
        for p in report.problems
    ]


def _finish(ok: bool, as_json: bool, document: Any, summary: str, problems: list[str]) -> None:
    if as_json:
        print_json(document)
    elif ok:
        console.print(f"[green]OK[/]: {summary}", highlight=False)
    else:
        _report_problems(problems)
    if not ok:
        raise typer.Exit(1)


def verify_file(file: Path, keys: Any, as_json: bool) -> None:
    from audit.export.trailer import verify_trailer
    from audit.verify import verify_export

    if not file.is_file():
        fail(f"{file}: no such file")
    with file.open("rb") as handle:
        if _is_jsonl_export(file):
            report = verify_export(handle, keys)
            _finish(report.ok, as_json, report.to_json(), report.summary(), _export_problems(report))
        else:
            trailer = verify_trailer(handle, keys)
            _finish(trailer.ok, as_json, trailer.to_json(), trailer.summary(), trailer.problems)


def verify_extends(file: Path, earlier: Path, consistency: Path | None, keys: Any, as_json: bool) -> None:
    from audit.treeproofs import ConsistencyProof, InvalidStatementError
    from audit.verify_proofs import load_proof, verify_export_extends

    proof = None
    if consistency is not None:
        try:
            loaded = load_proof(read_file(consistency, "the consistency proof"))
        except InvalidStatementError as exc:
            fail(f"{consistency}: {exc}")
        if not isinstance(loaded, ConsistencyProof):
            fail(f"{consistency}: an inclusion proof; --consistency takes `enclave audit prove --consistency` output")
        proof = loaded
    for path in (file, earlier):
        if not path.is_file():
            fail(f"{path}: no such file")
    with earlier.open("rb") as old, file.open("rb") as new:
        previous, current, continuity = verify_export_extends(old, new, keys, proof)
    ok = previous.ok and current.ok and continuity.ok
    document = {
        "ok": ok,
        "previous": previous.to_json(),
        "export": current.to_json(),
        "extends": continuity.to_json(),
    }
    problems = [f"{earlier.name}: {line}" for line in _export_problems(previous)]
    problems += [f"{file.name}: {line}" for line in _export_problems(current)]
    problems += continuity.problems
    summary = f"{current.summary()}\n{continuity.summary()}"
    _finish(ok, as_json, document, summary, problems)


def verify_proof(proof_file: Path, previous: Path | None, keys: Any, as_json: bool) -> None:
    from audit.treeproofs import InclusionProof, InvalidStatementError
    from audit.verify_proofs import (
        load_proof,
        signed_head_from,
        verify_consistency_proof,
        verify_inclusion_proof,
    )

    try:
        proof = load_proof(read_file(proof_file, "the proof"))
    except InvalidStatementError as exc:
        fail(f"{proof_file}: {exc}")
    held = None
    if previous is not None:
        try:
            held = signed_head_from(read_file(previous, "the earlier head"), keys)
        except InvalidStatementError as exc:
            fail(f"{previous}: {exc}")
    if isinstance(proof, InclusionProof):
        report = verify_inclusion_proof(proof, keys, against=held)
    else:
        report = verify_consistency_proof(proof, keys, previous=held)
    _finish(report.ok, as_json, report.to_json(), report.summary(), report.problems)


@audit_app.command("verify")
def audit_verify(
    public_key: Annotated[
        list[Path],
        typer.Option(metavar="PEM_FILE", help="the gateway's audit public key (PEM); repeat across a key rotation"),
    ],
    file: Annotated[
        Path | None, typer.Argument(metavar="FILE", help="an export: JSONL (with its proof), CSV or OCSF (trailer)")
    ] = None,
    key_history: Annotated[
        Path | None,
        typer.Option(metavar="KEYS_JSON", help="`enclave audit key-history` output: each key only for its range"),
    ] = None,
    extends: Annotated[
        Path | None, typer.Option(metavar="EARLIER_JSONL", help="check that FILE extends this earlier export")
    ] = None,
    consistency: Annotated[
        Path | None,
        typer.Option(metavar="PROOF_JSON", help="with --extends: `audit prove --consistency` output, if needed"),
    ] = None,
    proof: Annotated[
        Path | None, typer.Option(metavar="PROOF_JSON", help="check an inclusion or consistency proof instead")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(metavar="HEAD_FILE", help="with --proof: a signed head you hold (export, bucket head, proof)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check offline, with only the public key: an export (chain, tree heads, proof or trailer), that it extends
    an earlier one (--extends), or one proof (--proof). Exit 1 on any break."""
    if (file is None) == (proof is None):
        usage("give an export FILE or --proof PROOF_JSON (one of them)")
    if proof is not None and (extends or consistency):
        usage("--extends and --consistency check an export FILE, not a --proof")
    if file is not None and previous is not None:
        usage("--previous goes with --proof; to compare two exports use --extends")
    if consistency is not None and extends is None:
        usage("--consistency goes with --extends EARLIER_JSONL")
    keys = trusted_keys(public_key, key_history)
    if proof is not None:
        verify_proof(proof, previous, keys, as_json)
    elif extends is not None:
        assert file is not None
        verify_extends(file, extends, consistency, keys, as_json)
    else:
        assert file is not None
        verify_file(file, keys, as_json)
