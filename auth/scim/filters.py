"""SCIM filters (RFC 7644 §3.4.2.2), parsed by scim2-models, as SQLAlchemy conditions on the directory's tables.

The attributes a filter may name are the ones stored in columns: `id`, `userName`, `externalId`, `displayName`,
`active`, `emails` (`emails.value`, `emails.type`, `emails[type eq "work"].value`) and `meta.created` /
`meta.lastModified` for users; `id`, `displayName`, `externalId`, `members` (`members.value`,
`members[value eq "…"]`) and the `meta` dates for groups. Every operator is supported on them (`co`, `sw`, `ew`
on strings only; booleans take `eq`, `ne`, `pr`), with `and`, `or` and `not`. Anything else is refused with
`invalidFilter` rather than answered wrongly. `userName`, `displayName` and email values compare without case
(RFC 7643 §4.1: caseExact false), through the lower-cased keys the tables keep; ids and `externalId` exactly.
An attribute a resource lacks satisfies no comparison (so `not (externalId eq "x")` matches it)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from auth.scim.models import ScimGroupRow, ScimMembershipRow, ScimUserEmailRow, ScimUserRow
from auth.scim.schema import GROUP_SCHEMA, USER_SCHEMA

MAX_FILTER_LENGTH = 4096
Kind = Literal["key", "exact", "bool", "time"]
_STRING_ONLY = {CompareOperator.co, CompareOperator.sw, CompareOperator.ew}


def comparison_key(value: str) -> str:
    """What a case-insensitive attribute is stored and compared as: NFC, lower-cased (scim2-models' default)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


@dataclass(frozen=True)
class _Column:
    column: InstrumentedAttribute[Any]
    kind: Kind


@dataclass(frozen=True)
class _MultiValued:
    """A multi-valued attribute stored in a child table: a filter on it asks whether any of its values matches."""

    linked: Callable[[], ColumnElement[bool]]  # the child rows of the resource being filtered
    subs: dict[str, _Column]
    default: str  # the sub-attribute a bare comparison means (RFC 7644 §3.4.2.2: `value`)


@dataclass(frozen=True)
class _Catalogue:
    schema: str
    columns: dict[str, _Column]
    multi: dict[str, _MultiValued]


USERS = _Catalogue(
    USER_SCHEMA,
    {
        "id": _Column(ScimUserRow.id, "exact"),
        "username": _Column(ScimUserRow.user_name_key, "key"),
        "externalid": _Column(ScimUserRow.external_id, "exact"),
        "displayname": _Column(ScimUserRow.display_name_key, "key"),
        "active": _Column(ScimUserRow.active, "bool"),
        "meta.created": _Column(ScimUserRow.created_at, "time"),
        "meta.lastmodified": _Column(ScimUserRow.updated_at, "time"),
    },
    {
        "emails": _MultiValued(
            lambda: ScimUserEmailRow.scim_user_id == ScimUserRow.id,
            {"value": _Column(ScimUserEmailRow.value_key, "key"), "type": _Column(ScimUserEmailRow.type_key, "key")},
            "value",
        )
    },
)
GROUPS = _Catalogue(
    GROUP_SCHEMA,
    {
        "id": _Column(ScimGroupRow.id, "exact"),
        "displayname": _Column(ScimGroupRow.display_name_key, "key"),
        "externalid": _Column(ScimGroupRow.external_id, "exact"),
        "meta.created": _Column(ScimGroupRow.created_at, "time"),
        "meta.lastmodified": _Column(ScimGroupRow.updated_at, "time"),
    },
    {
        "members": _MultiValued(
            lambda: ScimMembershipRow.group_id == ScimGroupRow.id,
            {"value": _Column(ScimMembershipRow.scim_user_id, "exact")},
            "value",
        )
    },
)


def _unsupported(what: str, catalogue: _Catalogue) -> InvalidFilterException:
    names = sorted(catalogue.columns) + sorted(catalogue.multi)
    return InvalidFilterException(detail=f"filtering on {what} is not supported (supported: {', '.join(names)})")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment
    raise InvalidFilterException(detail="a date is compared with an RFC 3339 date-time with a zone, in quotes")


def _compare(column: _Column, op: CompareOperator, value: Any, name: str) -> ColumnElement[bool]:
    col = column.column
    if column.kind == "bool":
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilterException(detail=f"{name} is a boolean: compare it with eq or ne and true or false")
        return and_(col.is_not(None), col == value if op is CompareOperator.eq else col != value)
    if column.kind == "time":
        if op in _STRING_ONLY:
            raise InvalidFilterException(detail=f"{name} is a date: co, sw and ew do not apply")
        operand: Any = _time(value)
    else:
        if not isinstance(value, str):
            raise InvalidFilterException(detail=f"{name} is a string: compare it with a quoted value")
        operand = comparison_key(value) if column.kind == "key" else value
    condition: ColumnElement[bool]
    match op:
        case CompareOperator.eq:
            condition = col == operand
        case CompareOperator.ne:
            condition = col != operand
        case CompareOperator.co:
            condition = col.like(f"%{_escape_like(operand)}%", escape="\\")
        case CompareOperator.sw:
            condition = col.like(f"{_escape_like(operand)}%", escape="\\")
        case CompareOperator.ew:
            condition = col.like(f"%{_escape_like(operand)}", escape="\\")
        case CompareOperator.gt:
            condition = col > operand
        case CompareOperator.ge:
            condition = col >= operand
        case CompareOperator.lt:
            condition = col < operand
        case _:
            condition = col <= operand
    return and_(col.is_not(None), condition)


def _present(column: _Column) -> ColumnElement[bool]:
    col = column.column
    if column.kind in ("key", "exact"):
        return and_(col.is_not(None), col != "")
    return col.is_not(None)


class _SqlFilter(FilterVisitor[ColumnElement[bool]]):
    """One filter as a condition on the catalogue's table; `scope` is the multi-valued attribute a value
    selection (`emails[...]`) narrows to, whose sub-attributes are then the names in play."""

    def __init__(self, catalogue: _Catalogue, scope: _MultiValued | None = None, scope_name: str = "") -> None:
        self.catalogue = catalogue
        self.scope = scope
        self.scope_name = scope_name

    def _name(self, path: AttrPath) -> str:
        if path.uri is not None and path.uri.lower() != self.catalogue.schema.lower():
            raise InvalidFilterException(detail=f"{path.uri} is not a schema of this resource")
        return path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")

    def _target(self, path: AttrPath) -> tuple[_Column | None, _MultiValued | None, str]:
        """(the column compared, the multi-valued attribute it belongs to if any, its name for messages)."""
        name = self._name(path)
        if self.scope is not None:
            column = self.scope.subs.get(name)
            if column is None:
                raise _unsupported(f"{self.scope_name}[{path}]", self.catalogue)
            return column, None, f"{self.scope_name}.{name}"
        if name in self.catalogue.columns:
            return self.catalogue.columns[name], None, name
        attr, _, sub = name.partition(".")
        multi = self.catalogue.multi.get(attr)
        if multi is None:
            raise _unsupported(str(path), self.catalogue)
        if not sub:
            return None, multi, attr
        column = multi.subs.get(sub)
        if column is None:
            raise _unsupported(str(path), self.catalogue)
        return column, multi, name

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        column, multi, name = self._target(node.attr_path)
        if multi is not None:
            sub = column or multi.subs[multi.default]
            return exists(select(1).where(multi.linked(), _compare(sub, node.op, node.value, name)))
        assert column is not None
        return _compare(column, node.op, node.value, name)

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        column, multi, _ = self._target(node.attr_path)
        if multi is not None:
            condition = true() if column is None else _present(column)
            return exists(select(1).where(multi.linked(), condition))
        assert column is not None
        return _present(column)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op is LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if self.scope is not None:
            raise InvalidFilterException(detail="a value selection cannot be nested in another")
        name = self._name(node.attr_path)
        multi = self.catalogue.multi.get(name)
        if multi is None or node.sub_attr is not None:
            raise _unsupported(f"{node.attr_path}[...]", self.catalogue)
        inner = _SqlFilter(self.catalogue, multi, name).visit(node.val_filter)
        return exists(select(1).where(multi.linked(), inner))


def filter_condition(catalogue: _Catalogue, node: FilterNode | None) -> ColumnElement[bool]:
    """The SQL condition of a parsed filter (true without one); InvalidFilterException when it names what
    cannot be filtered on."""
    if node is None:
        return true()
    return _SqlFilter(catalogue).visit(node)
