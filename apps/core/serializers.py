"""Serializer building blocks shared by the apps' APIs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

_shared_fields: dict[type, Any] = {}


class FlatInput(serializers.Serializer):
    """An input serializer whose fields are built once per class, not once per request.

    DRF deep-copies every declared field for each serializer instance; on a version
    upload that was an eighth of the web worker's CPU. A *flat* input serializer — scalar,
    JSON, list and dict fields only: no nested serializers and no field that reads the
    context, the instance or a default from the request — validates the same with one
    shared set of fields, bound to a data-less prototype. What a validation produces
    (``initial_data``, ``errors``, ``validated_data``) stays on each instance.
    """

    @property
    def fields(self) -> Any:
        cls = type(self)
        fields = _shared_fields.get(cls)
        if fields is None:
            # As Serializer.fields builds them, bound to a prototype. A race here builds
            # the set twice; either result is correct.
            prototype = cls()
            fields = BindingDict(prototype)
            for name, field in prototype.get_fields().items():
                fields[name] = field
            _shared_fields[cls] = fields
        return fields
