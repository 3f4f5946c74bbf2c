"""GCP project ids: one rule for the deployer (a tenant stack's project, the projects allowed to connect
privately) and the runtime (the project of the platform's service-account key).

Resource Manager API, `projects.projectId`: "6 to 30 lowercase letters, digits, or hyphens. It must start with
a letter. Trailing hyphens are prohibited." (https://cloud.google.com/resource-manager/reference/rest/v1/projects);
and ids "cannot contain restricted strings, such as google, null, undefined, and ssl"
(https://cloud.google.com/resource-manager/docs/creating-managing-projects). A project number is the decimal
number Google assigns. Imports nothing of either side."""

from __future__ import annotations

import re

GCP_PROJECT_ID_REGEX = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
GCP_PROJECT_ID_PATTERN = re.compile(GCP_PROJECT_ID_REGEX)
GCP_PROJECT_NUMBER_PATTERN = re.compile(r"[1-9][0-9]{5,19}")
RESTRICTED_IN_PROJECT_IDS = ("google", "null", "undefined", "ssl")
GCP_PROJECT_ID_RULE = (
    "a GCP project id is 6 to 30 lowercase letters, digits and hyphens, starting with a letter, not ending with a "
    f"hyphen, and without {', '.join(RESTRICTED_IN_PROJECT_IDS)}"
)


def is_gcp_project_id(value: object) -> bool:
    """Whether `value` is a valid project id (a full match: no trailing newline slips through)."""
    return (
        isinstance(value, str)
        and GCP_PROJECT_ID_PATTERN.fullmatch(value) is not None
        and not any(word in value for word in RESTRICTED_IN_PROJECT_IDS)
    )


def is_gcp_project_id_or_number(value: object) -> bool:
    return is_gcp_project_id(value) or (
        isinstance(value, str) and GCP_PROJECT_NUMBER_PATTERN.fullmatch(value) is not None
    )


def check_gcp_project_id(value: str) -> str:
    """`value` unchanged when it is a valid project id; ValueError saying the rule otherwise."""
    if not is_gcp_project_id(value):
        raise ValueError(f"{value!r} is not a valid project id: {GCP_PROJECT_ID_RULE}")
    return value
