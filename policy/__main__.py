"""`pulumi preview --policy-pack policy`: the pipeline's security rules, enforced on every run."""

from finnhub_policies import NAMESPACE_DEFAULT_DENY, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="finnhub-security",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[*POLICIES, NAMESPACE_DEFAULT_DENY],
)
