"""FlatInput: one shared set of fields per class, validation state per instance."""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

from apps.core.serializers import FlatInput


class Plain(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=1, required=False, default=1)
    meta = serializers.JSONField(required=False, default=dict)


class Shared(FlatInput):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=1, required=False, default=1)
    meta = serializers.JSONField(required=False, default=dict)


CASES: list[Any] = [
    {"name": "ok"},
    {"name": "ok", "count": 3, "meta": {"a": [1]}},
    {"name": "too long"},
    {"count": 0},
    {"name": "", "count": "x"},
    "not an object",
]


def _outcome(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    body = serializer_class(data=data)
    if body.is_valid():
        return ("valid", dict(body.validated_data))
    return ("invalid", body.errors)


def test_flat_input_validates_exactly_like_a_plain_serializer() -> None:
    for data in CASES:
        assert _outcome(Shared, data) == _outcome(Plain, data), data


def test_fields_are_built_once_and_state_stays_per_instance() -> None:
    first, second = Shared(data={"name": "one"}), Shared(data={"name": "toolong"})
    assert first.fields is second.fields
    assert first.is_valid() and not second.is_valid()
    assert first.validated_data["name"] == "one" and "name" in second.errors
    assert first.errors == {}
    # Mutable defaults are fresh per validation, never shared.
    a, b = Shared(data={"name": "a"}), Shared(data={"name": "b"})
    assert a.is_valid() and b.is_valid()
    assert a.validated_data["meta"] is not b.validated_data["meta"]


def test_threads_validating_at_once_each_get_their_own_answer() -> None:
    results: dict[int, Any] = {}

    def validate(i: int) -> None:
        for _ in range(200):
            name = "x" * (i % 7 + 1)  # names longer than 5 are errors
            outcome = _outcome(Shared, {"name": name, "count": i + 1})
            expected = _outcome(Plain, {"name": name, "count": i + 1})
            if outcome != expected:
                results[i] = (outcome, expected)
                return

    threads = [threading.Thread(target=validate, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {}
