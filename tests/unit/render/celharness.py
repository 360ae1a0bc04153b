"""Evaluates a rendered ValidatingAdmissionPolicy the way the API server would, with cel-python.

cel-python knows standard CEL but not Kubernetes' quantity library, so ``isQuantity``, ``quantity``
and ``compareTo`` are supplied here, following ``resource.Quantity``'s grammar (which, unlike
dctenant's own parser, allows a sign). This checks what the expressions compute; it is not the API
server's type check against the OpenAPI schema, and cel-python does not implement CEL's
heterogeneous equality (``map != null`` is an error there), which is why the policies avoid it.

The harness follows the API server's order: match conditions (all must be true, else the policy
does not apply), then every validation; a validation that is false or fails to evaluate denies
(both policies use ``failurePolicy: Fail``), with its ``messageExpression`` as the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import celpy
from celpy import celtypes

from dctenant.domain import quantities

_K8S_QUANTITY = re.compile(r"(?P<sign>[+-]?)(?P<magnitude>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                           r"(?:[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?)")


def _parse(text: str) -> Decimal | None:
    match = _K8S_QUANTITY.fullmatch(str(text))
    if match is None:
        return None
    try:
        value = quantities.Quantity.parse(match["magnitude"])
    except quantities.QuantityError:
        return None
    return -value if match["sign"] == "-" else value


class Quantity(Decimal):
    """The value of a CEL ``quantity()``: only ``compareTo`` is used on it."""


def is_quantity(text: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_parse(text) is not None)


def quantity(text: Any) -> Quantity:
    value = _parse(text)
    if value is None:
        raise ValueError(f"quantities: invalid quantity {text!r}")
    return Quantity(value)


def compare_to(a: Quantity, b: Quantity) -> celtypes.IntType:
    return celtypes.IntType((a > b) - (a < b))


def split(text: Any, separator: Any) -> celtypes.ListType:
    """Kubernetes' CEL string library ``split``: like Go's strings.Split ("" splits into [""])."""
    return celtypes.ListType([celtypes.StringType(part) for part in str(text).split(str(separator))])


FUNCTIONS = {"isQuantity": is_quantity, "quantity": quantity, "compareTo": compare_to, "split": split}


@dataclass(frozen=True)
class Outcome:
    """``applies`` is False when a match condition excluded the request; ``denials`` are messages."""

    applies: bool
    denials: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.denials


def _cel(value: Any) -> Any:
    return celtypes.NullType() if value is None else celpy.json_to_cel(value)


class Policy:
    """A compiled ValidatingAdmissionPolicy manifest."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.env = celpy.Environment()
        spec = manifest["spec"]
        self.conditions = [self._compile(c["expression"]) for c in spec.get("matchConditions", [])]
        self.variables = [(v["name"], self._compile(v["expression"])) for v in spec.get("variables", [])]
        self.validations = [
            (self._compile(v["expression"]), self._compile(v["messageExpression"]), v["message"])
            for v in spec["validations"]
        ]

    def _compile(self, expression: str) -> Any:
        return self.env.program(self.env.compile(expression), functions=FUNCTIONS)

    def admit(self, *, operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None, namespace: str = "bale-messaging",
              username: str = "ops@bale.ir", namespace_object: dict[str, Any] | None = None) -> Outcome:
        subject = obj if obj is not None else old
        assert subject is not None
        kind = subject["kind"]
        request = {
            "operation": operation,
            "namespace": "" if kind == "Namespace" else namespace,
            "name": subject["metadata"].get("name", ""),
            "kind": {"group": "", "version": "v1", "kind": kind},
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
        }
        if namespace_object is None and kind != "Namespace":
            namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        activation: dict[str, Any] = {
            "object": _cel(obj), "oldObject": _cel(old), "request": _cel(request),
            "params": _cel(params), "namespaceObject": _cel(namespace_object),
        }
        for condition in self.conditions:
            result = condition.evaluate(activation)
            assert isinstance(result, celtypes.BoolType), result  # an error here would be a policy bug
            if not result:
                return Outcome(applies=False, denials=())
        values: dict[str, Any] = {}
        for name, program in self.variables:
            # The API server evaluates variables lazily; evaluating them all here is stricter, so a
            # variable that fails for a request the policy matches is caught as an error.
            values[name] = program.evaluate({**activation, "variables": celtypes.MapType(
                {celtypes.StringType(k): v for k, v in values.items()})})
            assert not isinstance(values[name], celpy.CELEvalError), (name, values[name])
        activation["variables"] = celtypes.MapType({celtypes.StringType(k): v for k, v in values.items()})
        denials = []
        for expression, message_expression, message in self.validations:
            try:
                result = expression.evaluate(activation)
            except celpy.CELEvalError as error:
                result = error
            if isinstance(result, celtypes.BoolType) and result:
                continue
            assert isinstance(result, celtypes.BoolType), f"validation failed to evaluate: {result}"
            text = message_expression.evaluate(activation)
            assert isinstance(text, str), f"messageExpression failed: {text}"
            denials.append(str(text) or message)
        return Outcome(applies=True, denials=tuple(denials))
