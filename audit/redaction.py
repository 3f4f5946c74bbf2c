"""Redaction at the source: strip secrets from an audit event before it is stored or emitted.

Three layers, applied to every string in an event (target, reason, actor fields, details):
- values under sensitive names, both as `details` keys and as `name=value` / `name: value` pairs in text
  (query strings, headers, connection strings): password, secret, token, signature, authorization, cookie,
  credentials, key material, OAuth `code`, Azure SAS `sig`, ...;
- secrets recognisable by their shape wherever they appear: `Bearer ...` credentials, JWTs, PEM private
  keys, passwords in URLs (`scheme://user:password@host`), AWS secret access keys, well-known token formats;
- Enclave API keys (`enc_<12 hex key id>_<secret>`) keep their key id and lose the secret.

Everything else is left intact: an auditor needs the URL path, the object key, the key id and the scope.
Non-secret identifiers that share a sensitive word (`key_id`, `access_key_id`, `token_type`,
`X-Amz-Credential`, `X-Goog-Credential`) are kept.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from itertools import pairwise

from audit.canonical import JsonValue
from audit.events import Actor, AuditEvent

REDACTED = "[REDACTED]"

# Names are compared after lower-casing and dropping everything but letters and digits, so that
# "X-Amz-Signature", "x_amz_signature" and "xAmzSignature" are one name.
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "signature",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
    "apikey",
    "accesskey",
    "accountkey",
    "signingkey",
    "masterkey",
    "sessionkey",
    "encryptionkey",
    "keymaterial",
    "connectionstring",
    "assertion",
    "samlresponse",
    "codeverifier",
)
_SENSITIVE_EXACT = frozenset({"sig", "code", "pwd", "pass", "auth", "jwt", "sas", "otp", "dsn"})
_NOT_SECRET_EXACT = frozenset({"xamzcredential", "xgoogcredential", "xgooglecredential"})
_NOT_SECRET_SUFFIXES = ("id", "ids", "count", "type")

_NON_ALNUM = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=1024)
def _is_sensitive_key(key: str) -> bool:
    """`is_sensitive_name` for details keys, which come from code and repeat on every event."""
    return is_sensitive_name(key)


def is_sensitive_name(name: str) -> bool:
    """Whether a value stored under `name` (a details key, query parameter or header) is a secret."""
    normal = _NON_ALNUM.sub("", name.lower())
    if normal in _SENSITIVE_EXACT:
        return True
    if normal in _NOT_SECRET_EXACT or normal.endswith(_NOT_SECRET_SUFFIXES):
        return False
    return any(fragment in normal for fragment in _SENSITIVE_FRAGMENTS)


_AUTH_SCHEMES = (
    r"Bearer|Basic|Digest|Negotiate|NTLM|Token|Bot|DPoP|MAC|HOBA|Mutual|ApiKey|OAuth|SharedKey(?:Lite)?|"
    r"AWS4-HMAC-SHA256|AWS|GoogleLogin"
)
_TOKEN_SHAPES = (
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"GOCSPX-[A-Za-z0-9_-]{20,}",  # Google OAuth client secrets
    r"ya29\.[A-Za-z0-9_.-]{20,}",  # Google OAuth access tokens
    r"sk_live_[A-Za-z0-9]{16,}",
    r"[A-Za-z0-9+/]{86}==",  # Azure storage account keys (64 bytes, base64)
)

# A PEM private key block, or its beginning when the text was cut.
_PEM = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*)"

# One scanner: at each position the first alternative that matches wins, so the order matters.
_SCANNER = re.compile(
    "|".join(
        (
            rf"(?P<pem>{_PEM})",
            # Header-like credentials: everything up to the end of the line or the closing quote.
            r"(?P<header>(?<![A-Za-z0-9_.-])(?i:proxy-authorization|authorization|set-cookie|cookie)"
            r"[\"']?[ \t]*[:=][ \t]*[\"']?)(?P<header_value>[^\r\n\"']+)",
            # scheme://user:password@host
            r"(?P<userinfo>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:]{0,256}:)"
            r"(?P<userinfo_secret>[^\s/?#@]+)(?=@)",
            # An auth scheme followed by its credentials.
            rf"(?P<scheme>(?<![A-Za-z0-9_-])(?i:{_AUTH_SCHEMES})[ \t]+)"
            r"(?P<scheme_value>(?!-----)[A-Za-z0-9._~+/=-]{8,})",
            # name=value, name: value, "name": "value", and percent-encoded name%3Dvalue.
            r"(?P<name>(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{2,64})"
            r"(?P<sep>[\"']?[ \t]*(?:[:=]|%3[dD])[ \t]*)(?=[^\s&#<>,;])",
            # A JWT (or JWS / JWE): base64url JSON header, payload, signature.
            r"(?P<jwt>(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
            r"(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?)",
            r"(?P<apikey>(?<![A-Za-z0-9])enc_[0-9a-f]{12}_)(?P<apikey_secret>[A-Za-z0-9_-]+)",
            rf"(?P<token>(?<![A-Za-z0-9_+/-])(?:{'|'.join(_TOKEN_SHAPES)}))",
            # Forty base64 characters mixing upper case, lower case and digits: an AWS secret access key.
            r"(?P<aws>(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))",
        )
    ),
    re.DOTALL,
)
_API_KEY = re.compile(r"^(enc_[0-9a-f]{12}_)[A-Za-z0-9_-]+$")
# The value after a sensitive name: a credential with its scheme, a quoted string, or up to a delimiter.
_PAIR_VALUE = re.compile(
    rf"{_PEM}|(?i:{_AUTH_SCHEMES})[ \t]+[A-Za-z0-9._~+/=-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s&#\"'<>,;]+", re.DOTALL
)
# Cheap test for text that no scanner alternative can match (most ids, e-mails, paths): each alternative
# needs ":", "=", "%3", "-----BEGIN ", "eyJ" or "enc_" (tested in redact_text), or one of these patterns.
_CANDIDATE_SHAPES = re.compile("|".join((*_TOKEN_SHAPES, r"[A-Za-z0-9/+]{40}")))
# Matched against the lower-cased text: a case-sensitive alternation is many times faster than (?i:...).
_CANDIDATE_SCHEME = re.compile(rf"(?<![a-z0-9_-])(?:{_AUTH_SCHEMES.lower()})[ \t]")


def _redact_credential(value: str) -> str:
    """A bearer-style credential: an Enclave API key keeps its id, anything else goes entirely."""
    api_key = _API_KEY.match(value)
    return f"{api_key.group(1)}{REDACTED}" if api_key else REDACTED


def _looks_like_credential(value: str) -> bool:
    """After an auth scheme: tell "Bearer dXNlcjpw..." from English like "Token validation failed"."""
    return (
        len(value) >= 20
        or any(c.isdigit() or c in "._~+/=-" for c in value)
        or any(a.islower() and b.isupper() for a, b in pairwise(value))
    )


def _looks_like_aws_secret(candidate: str) -> bool:
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() for c in candidate)
    )


def _replacement(match: re.Match[str]) -> tuple[str, int]:
    """What replaces `match`, and where scanning resumes (inside the match for a harmless name=value)."""
    groups = match.groupdict()
    if groups["header"] is not None:
        return groups["header"] + REDACTED, match.end()
    if groups["userinfo"] is not None:
        return groups["userinfo"] + REDACTED, match.end()
    if groups["scheme"] is not None:
        credential = groups["scheme_value"]
        if not _looks_like_credential(credential):
            return groups["scheme"], match.end("scheme")
        return groups["scheme"] + _redact_credential(credential), match.end()
    if groups["name"] is not None:
        if not is_sensitive_name(groups["name"]):
            # Harmless name: scan it (it may itself be a token) and its value like any other text.
            return redact_text(groups["name"]) + groups["sep"], match.end("sep")
        value = _PAIR_VALUE.match(match.string, match.end())
        if value is None:  # the lookahead guarantees one character; an unmatched quote stands alone
            return groups["name"] + groups["sep"], match.end()
        return groups["name"] + groups["sep"] + _redact_pair_value(value.group()), value.end()
    if groups["apikey"] is not None:
        return groups["apikey"] + REDACTED, match.end()
    if groups["aws"] is not None and not _looks_like_aws_secret(groups["aws"]):
        return groups["aws"], match.end()
    return REDACTED, match.end()


def _redact_pair_value(value: str) -> str:
    if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
        return value[0] + _redact_credential(value[1:-1]) + value[0]
    return _redact_credential(value)


def redact_text(text: str) -> str:
    """`text` with every recognisable secret replaced by "[REDACTED]"; unchanged if it holds none.

    Short strings recur across events (actor ids, e-mail addresses, user agents, methods), so their
    results are memoized; the function is pure, so a cached answer is the answer."""
    if len(text) <= _MEMO_MAX_LENGTH:
        return _redact_text_memo(text)
    return _redact_text(text)


_MEMO_MAX_LENGTH = 256


@lru_cache(maxsize=16384)
def _redact_text_memo(text: str) -> str:
    return _redact_text(text)


def _redact_text(text: str) -> str:
    if (
        ":" not in text
        and "=" not in text
        and "%3" not in text
        and "-----BEGIN " not in text
        and "eyJ" not in text
        and "enc_" not in text
        and _CANDIDATE_SHAPES.search(text) is None
        and _CANDIDATE_SCHEME.search(text.lower()) is None
    ):
        return text
    pieces: list[str] = []
    position = 0
    while (match := _SCANNER.search(text, position)) is not None:
        replacement, resume = _replacement(match)
        pieces.append(text[position : match.start()])
        pieces.append(replacement)
        position = resume
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces)


def redact_value(value: JsonValue) -> JsonValue:
    """Redact a JSON value: values under sensitive keys go entirely (null and booleans are kept),
    every other string is scanned with `redact_text`."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return redact_mapping(value)
    return value


def redact_mapping(mapping: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {key: _redact_entry(key, item) for key, item in mapping.items()}


def _redact_entry(key: str, value: JsonValue) -> JsonValue:
    if value is None or isinstance(value, bool) or not _is_sensitive_key(key):
        return redact_value(value)
    if isinstance(value, str):
        return _redact_credential(value)
    return REDACTED


def _redact_optional(text: str | None) -> str | None:
    return None if text is None else redact_text(text)


_TARGET_KIND = re.compile(r"[a-z][a-z0-9.-]{0,31}:")
_URL_USERINFO = re.compile(r"^(//[^\s/?#@:]{0,256}:)[^\s/?#@]+(?=@)")  # the scanner's `userinfo`, after the scheme


def redact_target(target: str | None) -> str | None:
    """A target names what an act touched, as `<kind>:<identifier>` (`apikey:3f9c...`, `tenant:acme`). The
    kind is a name, not a secret's label: `apikey:<id>` must keep the key id an auditor needs. Only the
    identifier is scanned, so a whole credential pasted into it is still removed; when the kind is a URL's
    scheme (`postgres://user:password@host`), the user's password is removed as in any other free-form text."""
    if target is None:
        return None
    kind = _TARGET_KIND.match(target)
    if kind is None:
        return redact_text(target)
    identifier = redact_text(target[kind.end() :])
    if identifier.startswith("//"):  # the kind was a URL's scheme: the password of its user goes too
        identifier = _URL_USERINFO.sub(rf"\g<1>{REDACTED}", identifier, count=1)
    return kind.group() + identifier


def redact_event(event: AuditEvent) -> AuditEvent:
    """The event with secrets removed from every free-form field; the same object when there were none."""
    actor = event.actor
    actor_id = redact_text(actor.id)
    email = _redact_optional(actor.email)
    user_agent = _redact_optional(actor.user_agent)
    target = redact_target(event.target)
    reason = _redact_optional(event.reason)
    request_id = _redact_optional(event.request_id)
    trace_id = _redact_optional(event.trace_id)
    details = redact_mapping(event.details)
    if (actor_id, email, user_agent, target, reason, request_id, trace_id, details) == (
        actor.id,
        actor.email,
        actor.user_agent,
        event.target,
        event.reason,
        event.request_id,
        event.trace_id,
        event.details,
    ):
        return event
    redacted_actor = Actor(actor.kind, actor_id, email, actor.ip, user_agent)
    return replace(
        event,
        actor=redacted_actor,
        target=target,
        reason=reason,
        request_id=request_id,
        trace_id=trace_id,
        details=details,
    )
