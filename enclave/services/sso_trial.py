"""A test sign-in: customer IT runs one of its identity providers' flow for itself and sees what the provider
returned (the identity and its claims — never a token, code or secret) and which validation step failed, if
one did, and what the tenant's sign-in policy would make of it. No session is opened and no user is created
or changed: the policy is evaluated by reading only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.events import AuditEvent, Outcome
from auth.identities import find_link
from auth.models import Tenant, User
from auth.roles import Permission, Role
from auth.sso.errors import LoginRefusedError, SsoConfigError
from auth.sso.flow import LoginStart, SignInService
from auth.sso.providers import VerifiedIdentity
from auth.sso.registry import get_policy, get_provider
from auth.users import UserError, find_user_by_email, normalise_email, policy_role
from enclave.runtime import Runtime
from enclave.services.access import Access
from tenancy.errors import NotFoundError

# claims that prove a token rather than describe the person: left out of the report
HIDDEN_CLAIMS = frozenset({"nonce", "at_hash", "c_hash", "s_hash", "sid", "jti"})


@dataclass(frozen=True)
class TrialReport:
    provider: str
    passed: list[str]  # the validation steps passed, in order
    failed_step: str | None = None
    failure: str | None = None  # the refusal's message (never a secret)
    reason: str | None = None  # its stable code
    subject: str | None = None
    email: str | None = None
    email_verified: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    policy: list[str] = field(default_factory=list)  # what a real sign-in would do, line by line

    @property
    def ok(self) -> bool:
        return self.failed_step is None


class SsoTrial:
    def __init__(self, runtime: Runtime, sign_in: SignInService) -> None:
        self._runtime = runtime
        self._sign_in = sign_in

    def begin(self, access: Access, name: str, redirect_uri: str) -> LoginStart:
        """Where to send the administrator to sign in with the provider `name` (`sso.admin`)."""
        access.require(Permission.SSO_ADMIN)
        with self._runtime.sessions() as session:
            row = get_provider(session, access.tenant, name)
        if row is None:
            raise NotFoundError(f"no identity provider named {name!r}")
        try:
            return self._sign_in.begin_trial(access.tenant, row, redirect_uri)
        except LoginRefusedError as refused:  # discovery failed: nothing to try
            raise NotFoundError(f"{name} cannot be tried: {refused}") from None

    def finish(
        self,
        access: Access,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        iss: str | None,
        browser_binding: str | None,
        redirect_uri: str,
    ) -> TrialReport:
        """The provider's answer, checked as a sign-in checks it, reported step by step."""
        access.require(Permission.SSO_ADMIN)
        steps: list[str] = []
        try:
            row, identity = self._sign_in.trial(
                access.tenant,
                steps,
                state=state,
                code=code,
                error=error,
                browser_binding=browser_binding,
                redirect_uri=redirect_uri,
                iss=iss,
            )
        except LoginRefusedError as refused:
            report = TrialReport("", steps[:-1], steps[-1] if steps else "start", str(refused), refused.reason)
        else:
            report = TrialReport(
                row.name,
                steps,
                subject=identity.subject,
                email=identity.email,
                email_verified=identity.email_verified,
                claims={k: v for k, v in sorted(identity.claims.items()) if k not in HIDDEN_CLAIMS},
                policy=self._policy(access.tenant, row.id, identity),
            )
        self._record(access, report)
        return report

    def _record(self, access: Access, report: TrialReport) -> None:
        """The test is an act of customer IT with the provider: recorded (who, which provider, how it ended, the
        account's subject) before the report is shown; never a claim, token or code."""
        self._runtime.appender.append(
            AuditEvent(
                tenant=access.tenant,
                actor=access.actor,
                action="sso.provider.tested",
                outcome=Outcome.SUCCESS if report.ok else Outcome.DENIED,
                target=f"sso-provider:{report.provider}" if report.provider else None,
                reason=report.reason,
                request_id=access.request_id,
                details={"failed_step": report.failed_step, "subject": report.subject},
            )
        )

    def _policy(self, tenant_id: str, provider_id: str, identity: VerifiedIdentity) -> list[str]:
        """What the tenant's sign-in policy would do with this identity (read only)."""
        with self._runtime.sessions() as session:
            tenant = session.get(Tenant, tenant_id)
            try:
                policy = get_policy(session, tenant_id)
            except SsoConfigError as exc:
                return [f"refused: the sign-in policy is invalid ({exc})"]
            if identity.email is None or not identity.email_verified:
                return ["refused: the provider vouches for no verified email address"]
            try:
                email = normalise_email(identity.email)
            except UserError:
                return ["refused: the provider's email address is not valid"]
            domain = email.rsplit("@", 1)[-1]
            if policy.allowed_domains and domain not in policy.allowed_domains:
                return [f"refused: accounts from {domain} may not sign in to this tenant"]
            lines = [f"email {email} is verified and its domain is allowed"]
            link = find_link(session, provider_id, identity.subject)
            user = session.get(User, link.user_id) if link else find_user_by_email(session, tenant_id, email)
            if user is not None and user.disabled_at is not None:
                return [*lines, f"refused: the user {user.email} is disabled"]
            if link is not None and user is not None:
                lines.append(f"signs in as {user.email} (this account is linked to that user)")
            elif user is not None:
                lines.append(f"would claim the invitation of {user.email} if it is still unclaimed")
            elif policy.jit:
                lines.append(f"would create the user {email} (just-in-time)")
            else:
                return [*lines, "refused: this tenant signs in invited users only"]
            default = Role(tenant.default_role) if tenant else Role.VIEWER
            mapped = policy_role(policy, identity.claims, default)
            lines.append(f"role: {mapped[0]} ({mapped[1]})" if mapped else "role: set by administrators")
        return lines
