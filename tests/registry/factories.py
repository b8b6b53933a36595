"""Factories and small builders for registry tests (direct ORM, no audit: test set-up)."""

from __future__ import annotations

from typing import Any, cast

import factory

from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelVersion,
    PolicyRule,
    PromotionPolicy,
    RegisteredModel,
)
from tests.factories import TeamFactory


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisteredModel

    name = factory.Sequence(lambda n: f"model-{n}")
    team = factory.SubFactory(TeamFactory)
    description = "A test model."


def make_model(**fields: Any) -> RegisteredModel:
    """A registered model (typed wrapper around the factory)."""
    return cast(RegisteredModel, RegisteredModelFactory(**fields))


def make_version(model: RegisteredModel, **fields: Any) -> ModelVersion:
    """The model's next version (numbers as the service assigns them)."""
    model.latest_version += 1
    model.save(update_fields=["latest_version"])
    fields.setdefault("source_uri", f"s3://bucket/{model.name}/{model.latest_version}")
    return ModelVersion.objects.create(model=model, version=model.latest_version, **fields)


def add_evals(version: ModelVersion, dataset: str = "holdout", **metrics: float) -> None:
    EvalResult.objects.bulk_create(
        [
            EvalResult(version=version, metric=m, value=v, dataset=dataset)
            for m, v in metrics.items()
        ]
    )


def make_policy(
    *,
    model: RegisteredModel | None = None,
    team: Any = None,
    target: str = "production",
    target_kind: str = "alias",
    requires_approval: bool = False,
    rules: list[dict[str, Any]] | None = None,
) -> PromotionPolicy:
    policy = PromotionPolicy.objects.create(
        model=model,
        team=team,
        target=target,
        target_kind=target_kind,
        requires_approval=requires_approval,
    )
    for rule in rules or []:
        PolicyRule.objects.create(policy=policy, **rule)
    return policy


def point_alias(model: RegisteredModel, alias: str, version: ModelVersion) -> ModelAlias:
    alias_row, _ = ModelAlias.objects.update_or_create(
        model=model, alias=alias, defaults={"version": version}
    )
    return alias_row
