"""Every sealed column of the schema, found by its type: what key sealed how many values (`enclave secrets
check`), and moving them all to the current key after a rotation (`enclave secrets reseal`, audited per tenant).
Values are read and written raw here (`type_coerce` to Text), so neither step ever holds more than one plaintext
at a time and nothing is decrypted only to be counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Column, Text, func, select, type_coerce, update
from sqlalchemy.orm import Session

from audit.canonical import JsonValue
from audit.events import Actor, AuditEvent
from audit.store.log import AuditLog
from auth.models import Base
from auth.sealing import HEADER_CHARS, SealedText, SealingError, SecretSealer, sealed_header, sealed_key_id

NOT_SEALED = "(not sealed)"


def sealed_columns() -> list[Column[str]]:
    """The SealedText columns of every table (each table has a one-column primary key and a tenant_id)."""
    return [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SealedText)
    ]


def _name(column: Column[str]) -> str:
    return f"{column.table.name}.{column.name}"


@dataclass(frozen=True)
class ColumnCensus:
    """How many values of one column each key sealed; `unknown_keys` are those this gateway was not given (or
    NOT_SEALED): their values read as absent."""

    column: str
    by_key: dict[str, int]
    unknown_keys: tuple[str, ...]

    @property
    def unreadable(self) -> int:
        return sum(self.by_key[key] for key in self.unknown_keys)


def census(session: Session, sealer: SecretSealer) -> list[ColumnCensus]:
    """Counts by key id, from the values' headers (grouped in the database, nothing decrypted)."""
    result = []
    for column in sealed_columns():
        raw = type_coerce(column, Text)
        header = func.substr(raw, 1, HEADER_CHARS)
        rows = session.execute(select(header, func.count()).where(raw.is_not(None)).group_by(header)).all()
        by_key: Counter[str] = Counter()
        for prefix, count in rows:
            by_key[sealed_key_id(prefix) or NOT_SEALED] += count
        unknown = tuple(sorted(key_id for key_id in by_key if not sealer.knows(key_id)))
        result.append(ColumnCensus(_name(column), dict(sorted(by_key.items())), unknown))
    return result


@dataclass
class ResealReport:
    """Values moved to the current key, per tenant and column; values no key opens, left as they are."""

    key_id: str
    resealed: Counter[tuple[str, str]] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)


def reseal(session: Session, audit: AuditLog, actor: Actor, sealer: SecretSealer) -> ResealReport:
    """Seal every value not under the current key again under it, in `session`'s transaction; one audit record per
    tenant that had any (how many, which columns, from which keys). A value no key opens is left untouched and
    counted: it reads as absent until the key that sealed it is given back."""
    report = ResealReport(sealer.key_id)
    from_keys: dict[str, set[str]] = {}
    current = sealed_header(sealer.key_id) + "%"
    for column in sealed_columns():
        name = _name(column)
        table = column.table
        (key,) = table.primary_key.columns
        raw = type_coerce(column, Text)
        query = select(key, table.c.tenant_id, raw).where(raw.is_not(None), raw.not_like(current))
        for row_key, tenant, value in session.execute(query).all():
            key_id = sealed_key_id(value)
            try:
                plaintext = sealer.open(value, name)
            except SealingError:
                report.unreadable[name] += 1
                continue
            assert key_id is not None  # it opened, so it is in the sealed format
            resealed = type_coerce(sealer.seal(plaintext, name), Text)  # raw: the column type must not seal it again
            session.execute(update(table).where(key == row_key).values({column.name: resealed}))
            report.resealed[tenant, name] += 1
            from_keys.setdefault(tenant, set()).add(key_id)
    for tenant in sorted(from_keys):
        # each column by name under "column" (a details key naming a secret would be redacted as one)
        columns: list[JsonValue] = [
            {"column": name, "count": count}
            for (owner, name), count in sorted(report.resealed.items())
            if owner == tenant
        ]
        key_ids: list[JsonValue] = [*sorted(from_keys[tenant])]
        audit.append(
            session,
            AuditEvent(
                tenant=tenant,
                actor=actor,
                action="secrets.resealed",
                target=f"secrets-key:{sealer.key_id}",
                details={"resealed": columns, "from_key_ids": key_ids},
            ),
        )
    return report
