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
            description="Every namespace except dctenant's system namespace carries the dctenant.io/tenant label.",
            validate=dctenant_policy.validate_namespace,
            config_schema=CONFIG,
        ),
    ],
)
