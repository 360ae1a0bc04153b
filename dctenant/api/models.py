"""The API's request bodies as pydantic models: the OpenAPI document and the validation are one thing.

Every model forbids unknown fields, and every scalar is strict: pydantic's lax mode would read the
JSON boolean ``true`` as the integer 1 (``"cpu": true`` as one CPU) and a number as a string. A
quantity is a JSON string or integer and nothing else; the units are checked afterwards by the
same resource-map reader as ``quotas/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from dctenant.ops import selfservice_usecases

# Full-match semantics: pydantic compiles ``pattern`` for the Rust regex engine, whose ``$`` is the
# end of the text (unlike Python's ``re``, where ``$`` also matches before a final newline).
# ``\z`` is not understood there, so the anchors stay ``^…$`` and the use-cases check again with
# ``re.fullmatch``.
NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Amount = Annotated[StrictStr | StrictInt,
                   Field(description='A quantity as in quotas/: "2", "500m", "4Gi", "10Gbps" (never a boolean)')]
Text = Annotated[StrictStr, Field(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Bandwidth(Strict):
    egress: Amount | None = None
    ingress: Amount | None = None


class Quota(Strict):
    """A resource map as in ``quotas/``: the loader's reader checks units and storage classes."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    cpu: Amount | None = None
    memory: Amount | None = None
    gpu: Amount | None = Field(default=None, alias="nvidia.com/gpu")
    storage: Annotated[dict[StrictStr, Amount], Field(max_length=50)] | None = None
    bandwidth: Bandwidth | None = None

    def raw(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class NamespaceCreate(Strict):
    name: Annotated[StrictStr, Field(max_length=63, description="DNS-1123 label starting with '<tenant>-'")]
    pool: Annotated[StrictStr, Field(max_length=64)]
    quota: Quota


class NamespaceResize(Strict):
    quota: Quota


class IncreaseRequest(Strict):
    """Either ``add`` (amounts added to the current demand) or ``to`` (the new demand), not both."""

    pool: Annotated[StrictStr, Field(max_length=64)]
    add: Quota | None = Field(default=None, description="Amounts to add to the tenant's demand in the pool")
    to: Quota | None = Field(default=None, description="The new demand of the named resources (absolute)")
    reason: Annotated[StrictStr, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _one_mode(self) -> IncreaseRequest:
        if (self.add is None) == (self.to is None):
            raise ValueError("give exactly one of add (a difference) or to (an absolute demand)")
        return self

    def body(self) -> dict[str, Any]:
        mode, quota = ("add", self.add) if self.add is not None else ("to", self.to)
        return {"pool": self.pool, "mode": mode, "amounts": quota.raw() if quota else {}, "reason": self.reason}


class TokenCreate(Strict):
    scope: Literal["tenant", "staff", "auditor"] = "tenant"
    tenant: Annotated[StrictStr, Field(max_length=64, pattern=NAME)] | None = None
    expires_days: Annotated[StrictInt, Field(alias="expiresDays", ge=1, le=selfservice_usecases.MAX_TOKEN_DAYS)] = 90
    note: Annotated[StrictStr, Field(max_length=500)] = ""


class Verdict(Strict):
    reason: Text = ""
