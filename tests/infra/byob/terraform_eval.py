"""Evaluate the committed kits' Terraform JSON for given variables, as far as the tests need: `count`, locals,
validation conditions, outputs and (AWS) aws_iam_policy_document data sources rendered to IAM JSON.

Terraform itself cannot run here (its providers cannot be downloaded), so this reads the subset of the
expression language the kits use — references, `? :`, `== != < > <= >=`, `! && ||`, `[for x in xs : e]`,
string templates and the functions below — and raises on anything else, so that a kit using new syntax fails
the tests loudly instead of being misread. Semantics follow the Terraform language documentation
(https://developer.hashicorp.com/terraform/language/expressions); regular expressions use Python's `re`,
which reads the kits' patterns (character classes, no look-around) as RE2 does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KITS = Path(__file__).resolve().parents[3] / "kits" / "byob"
TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<op>\[\*\]|==|!=|<=|>=|&&|\|\||[?:!<>()\[\],.])|(?P<name>[A-Za-z_][\w-]*)"
    r"|(?P<string>\"))"
)


class EvalError(ValueError):
    """An expression this evaluator cannot read, or one that fails (what `can()` catches)."""


def _template_end(text: str, start: int) -> int:
    """The index of the `}` closing the interpolation whose body starts at `start`."""
    depth, i = 1, start
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _string_end(text, i + 1)
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise EvalError(f"unclosed interpolation in {text!r}")


def _string_end(text: str, start: int) -> int:
    """The index of the quote closing the string literal whose body starts at `start`."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith("${", i):
            i = _template_end(text, i + 2) + 1
            continue
        if text[i] == '"':
            return i
        i += 1
    raise EvalError(f"unclosed string in {text!r}")


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw)


@dataclass
class Parser:
    text: str
    scope: Scope
    pos: int = 0
    bound: dict[str, Any] = field(default_factory=dict)  # `for` variables

    def peek(self) -> tuple[str, str] | None:
        match = TOKEN.match(self.text, self.pos)
        if match is None or match.lastgroup is None:
            return None
        return match.lastgroup, match.group(match.lastgroup)

    def take(self, expected: str | None = None) -> tuple[str, str]:
        match = TOKEN.match(self.text, self.pos)
        if match is None or match.lastgroup is None:
            raise EvalError(f"cannot read {self.text[self.pos :]!r}")
        kind, value = match.lastgroup, match.group(match.lastgroup)
        if expected is not None and value != expected:
            raise EvalError(f"expected {expected!r} at {self.text[self.pos :]!r}")
        self.pos = match.end()
        if kind == "string":
            end = _string_end(self.text, self.pos)
            value, self.pos = self.text[self.pos : end], end + 1
        return kind, value

    def at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[0] in ("op", "name") and token[1] == value

    def expression(self) -> Any:
        condition = self.binary(0)
        if self.at("?"):
            self.take("?")
            yes = self.expression()
            self.take(":")
            no = self.expression()
            return yes if _truth(condition) else no
        return condition

    LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="))

    def binary(self, level: int) -> Any:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while any(self.at(op) for op in self.LEVELS[level]):
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.at("!"):
            self.take("!")
            return not _truth(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "string":
            return self.scope.template(_unescape(value.replace("$${", "\x00")).replace("\x00", "$${"), self.bound)
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if value == "[":
            return self.list_or_for()
        if kind != "name":
            raise EvalError(f"unexpected {value!r} in {self.text!r}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.at("("):
            return self.call(value)
        if value in self.bound:
            return self.bound[value]
        return self.scope.root(value)

    def list_or_for(self) -> list[Any]:
        if self.at("for"):
            self.take("for")
            name = self.take()[1]
            self.take("in")
            items = self.expression()
            self.take(":")
            body_start, results = self.pos, []
            for item in items:
                self.pos = body_start
                inner = Parser(self.text, self.scope, self.pos, {**self.bound, name: item})
                results.append(inner.expression())
                end = inner.pos
            if not items:  # skip the body without evaluating it
                end = _skip_to_bracket(self.text, body_start)
            self.pos = end
            self.take("]")
            return results
        values = []
        while not self.at("]"):
            values.append(self.expression())
            if self.at(","):
                self.take(",")
        self.take("]")
        return values

    def call(self, name: str) -> Any:
        self.take("(")
        if name == "can":
            start = self.pos
            try:
                self.expression()
                result = True
            except EvalError:
                self.pos = _skip_to_paren(self.text, start)
                result = False
            self.take(")")
            return result
        args = []
        while not self.at(")"):
            args.append(self.expression())
            if self.at(","):
                self.take(",")
        self.take(")")
        if name not in FUNCTIONS:
            raise EvalError(f"function {name}() is not modelled")
        return FUNCTIONS[name](*args)

    def postfix(self, value: Any) -> Any:
        while True:
            if self.at("[*]"):
                self.take("[*]")
                items = [] if value is None else value if isinstance(value, list) else [value]
                attrs: list[str] = []
                while self.at("."):
                    self.take(".")
                    attrs.append(self.take()[1])
                value = [_attrs(item, attrs) for item in items]
            elif self.at("."):
                self.take(".")
                value = _get(value, self.take()[1])
            elif self.at("["):
                self.take("[")
                index = self.expression()
                self.take("]")
                value = _get(value, index)
            else:
                return value


def _skip_to_paren(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        if text[i] == '"':
            i = _string_end(text, i + 1)
        elif text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise EvalError("unbalanced parentheses")


def _skip_to_bracket(text: str, start: int) -> int:
    return _skip_to_paren(text, start)


def _attrs(item: Any, attrs: list[str]) -> Any:
    for attr in attrs:
        item = _get(item, attr)
    return item


def _get(value: Any, key: Any) -> Any:
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        raise EvalError(f"no {key!r} in {str(value)[:80]}") from None


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise EvalError(f"{value!r} is not a bool")
    return value


def _apply(op: str, left: Any, right: Any) -> Any:
    if op in ("&&", "||"):
        return _truth(left) and _truth(right) if op == "&&" else _truth(left) or _truth(right)
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def _regex(pattern: str, text: str) -> str:
    # RE2's `$` is the end of the text (https://github.com/google/re2/wiki/Syntax); Python's also matches
    # before a final newline, so it is read as `\Z` here.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"regex {pattern!r} does not match {text!r}")
    return match.group(0)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise EvalError("coalesce: no non-null, non-empty argument")


def _one(values: Sequence[Any]) -> Any:
    if len(values) > 1:
        raise EvalError("one: more than one element")
    return values[0] if values else None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "alltrue": lambda xs: all(_truth(x) for x in xs),
    "coalesce": _coalesce,
    "concat": lambda *lists: [x for xs in lists for x in xs],
    "contains": lambda xs, x: x in xs,
    "length": len,
    "one": _one,
    "regex": _regex,
    "replace": lambda text, old, new: text.replace(old, new),
    "split": lambda sep, text: text.split(sep),
}


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise EvalError(f"cannot interpolate {value!r} into a string")


@dataclass
class Scope:
    """Values an expression can reach: variables, locals (evaluated on demand), and data sources and resources,
    whose attributes the test supplies (`attributes`) — except aws_iam_policy_document, rendered here."""

    terraform: dict[str, Any]
    variables: dict[str, Any]
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # "type.name" / "data.type.name"

    def template(self, text: str, bound: dict[str, Any] | None = None) -> Any:
        parts: list[Any] = []
        i = 0
        while i < len(text):
            if text.startswith("$${", i):
                parts.append("${")
                i += 3
            elif text.startswith("${", i):
                end = _template_end(text, i + 2)
                parser = Parser(text[i + 2 : end], self, 0, dict(bound or {}))
                value = parser.expression()
                if text[i + 2 + parser.pos : end].strip():
                    raise EvalError(f"cannot read {text[i + 2 + parser.pos : end]!r}")
                parts.append(value)
                i = end + 1
            else:
                nxt = min((j for j in (text.find("${", i), text.find("$${", i)) if j >= 0), default=len(text))
                parts.append(text[i:nxt])
                i = nxt
        if len(parts) == 1 and text.startswith("${") and text.endswith("}"):
            return parts[0]
        return "".join(_stringify(p) for p in parts)

    def value(self, raw: Any) -> Any:
        """A JSON value with every string in it evaluated as a template."""
        if isinstance(raw, str):
            return self.template(raw)
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items() if k != "//"}
        return raw

    def root(self, name: str) -> Any:
        if name == "var":
            return self.variables_with_defaults()
        if name == "local":
            return _Lazy(lambda key: self.template(self.terraform["locals"][key]))
        if name == "data":
            return _Lazy(lambda type_: _Lazy(lambda block: self.instances("data", type_, block)))
        if name in self.terraform.get("resource", {}):
            return _Lazy(lambda block: self.instances("resource", name, block))
        raise EvalError(f"unknown reference {name!r}")

    def variables_with_defaults(self) -> dict[str, Any]:
        merged = {k: v["default"] for k, v in self.terraform["variable"].items() if "default" in v}
        merged.update(self.variables)
        missing = set(self.terraform["variable"]) - set(merged)
        if missing:
            raise EvalError(f"required variables not given: {sorted(missing)}")
        return merged

    def count(self, kind: str, type_: str, name: str) -> int | None:
        """The block's evaluated count, or None when it has none (a single instance)."""
        block = self.terraform[kind][type_][name]
        return None if "count" not in block else int(self.template(block["count"]))

    def instances(self, kind: str, type_: str, name: str) -> Any:
        count = self.count(kind, type_, name)
        if kind == "data" and type_ == "aws_iam_policy_document":
            make: Callable[[], Any] = lambda: {"json": json.dumps(self.policy(name))}  # noqa: E731
        else:
            address = f"{'data.' if kind == 'data' else ''}{type_}.{name}"
            if address not in self.attributes:
                raise EvalError(f"the test supplies no attributes for {address}")
            make = lambda: self.attributes[address]  # noqa: E731
        return make() if count is None else [make() for _ in range(count)]

    def policy(self, name: str) -> dict[str, Any]:
        """An aws_iam_policy_document rendered as the AWS provider does (statement order kept; one-element lists
        kept as lists, which IAM reads alike)."""
        block = self.terraform["data"]["aws_iam_policy_document"][name]
        statements: list[dict[str, Any]] = []
        for source in self.value(block.get("source_policy_documents", [])):
            statements += json.loads(source)["Statement"]
        for raw in block.get("statement", []):
            stmt = self.value(raw)
            rendered: dict[str, Any] = {"Sid": stmt.get("sid", ""), "Effect": stmt.get("effect", "Allow")}
            rendered["Action"] = stmt["actions"]
            if stmt.get("resources"):
                rendered["Resource"] = stmt["resources"]
            if stmt.get("principals"):
                rendered["Principal"] = {p["type"]: p["identifiers"] for p in stmt["principals"]}
                if rendered["Principal"] == {"*": ["*"]}:
                    rendered["Principal"] = "*"
            conditions: dict[str, dict[str, Any]] = {}
            for cond in stmt.get("condition", []):
                conditions.setdefault(cond["test"], {})[cond["variable"]] = cond["values"]
            if conditions:
                rendered["Condition"] = conditions
            statements.append(rendered)
        return {"Version": "2012-10-17", "Statement": statements}

    def validation_errors(self) -> list[str]:
        """The error messages of every variable validation that the given values fail."""
        errors = []
        for spec in self.terraform["variable"].values():
            for rule in spec.get("validation", []):
                if not self.template(rule["condition"]):
                    errors.append(rule["error_message"])
        return errors


class _Lazy(Mapping[str, Any]):
    def __init__(self, get: Callable[[str], Any]) -> None:
        self._get = get

    def __getitem__(self, key: str) -> Any:
        try:
            return self._get(key)
        except KeyError:
            raise EvalError(f"unknown {key!r}") from None

    def __iter__(self) -> Any:
        raise EvalError("cannot iterate over a namespace")

    def __len__(self) -> int:
        raise EvalError("cannot size a namespace")


def load_kit(cloud: str) -> dict[str, Any]:
    return json.loads((KITS / cloud / "cdk.tf.json").read_text(encoding="utf-8"))
