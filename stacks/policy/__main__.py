"""The policy pack: the checks live in ``dctenant_policy`` (tested by direct invocation)."""

import dctenant_policy
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

CONFIG = PolicyConfigSchema(properties={"quotas": {
    "type": "string",
    "description": "The quotas directory, relative to stacks/policy (default: $DCTENANT_QUOTAS or ../../quotas).",
}})

PolicyPack(
    name="dctenant",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name="quotas-within-allocatable",
            description="The ResourceQuotas of a cluster together fit in its pool's allocatable capacity.",
            validate=dctenant_policy.validate_quotas,
            config_schema=CONFIG,
        ),
        ResourceValidationPolicy(
            name="namespaces-carry-tenant-label",
            description="Every tenant namespace carries its tenant's and pool's labels and pinned, non-privileged "
                        "Pod Security labels.",
            validate=dctenant_policy.validate_namespace,
            config_schema=CONFIG,
        ),
        StackValidationPolicy(
            name="tenant-isolation-intact",
            description="Quotas, limits, NetworkPolicies, admission parameters and policies are all present; the "
                        "tenant-admin role is not broadened; quotas keep every key, their labels and their limits.",
            validate=dctenant_policy.validate_isolation,
            config_schema=CONFIG,
        ),
    ],
)
