"""Model registry at 1,000 models x 100 versions x 10 eval metrics (1,000,000 eval rows).

Targets (issue 6): model list, model page and version search via the API each p95 <= 50 ms
server time with constant query counts (the small run seeds 20 x 10 x 10); gate evaluation
for one version <= 20 ms.
"""

from __future__ import annotations

import random
from typing import Any

from django.db import connection, transaction

from apps.accounts.models import Membership, Team
from apps.registry.gate import evaluate_gate
from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelTag,
    ModelVersion,
    PolicyRule,
    PromotionPolicy,
    RegisteredModel,
    VersionTag,
)
from bench.harness import Context, Scenario
from tests.factories import UserFactory

TEAMS = 10
METRICS = [
    "accuracy",
    "f1",
    "precision",
    "recall",
    "auc",
    "latency_p95_ms",
    "latency_p50_ms",
    "throughput_rps",
    "calibration_error",
    "memory_mb",
]
FRAMEWORKS = ["pytorch", "xgboost", "transformers", "lightgbm"]
DATASET = "holdout-2026"
PREFIX = "bench-model-"


def scale(ctx: Context) -> tuple[int, int]:
    """(models, versions per model) for the current run size."""
    return ctx.pick((1000, 100), (20, 10))


def seed(ctx: Context) -> dict[str, Any]:
    """Seed the registry at the run's scale (skipped when already there)."""
    models, versions = scale(ctx)
    teams = [
        Team.objects.get_or_create(slug=f"bench-reg-{i}", defaults={"name": f"Bench reg {i}"})[0]
        for i in range(TEAMS)
    ]
    user: Any = UserFactory(username="bench-reg-user")
    for team in teams:
        Membership.objects.get_or_create(user=user, team=team, defaults={"role": "maintainer"})
    present = RegisteredModel.objects.filter(name__startswith=PREFIX).count()
    if present != models or EvalResult.objects.count() < models * versions * len(METRICS):
        with transaction.atomic():
            _wipe()
            if connection.vendor == "postgresql":
                _seed_postgres(models, versions, [t.pk for t in teams], user.pk)
            else:
                _seed_python(models, versions, teams, user)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    return {"user": user, "models": models, "versions": versions, "teams": teams}


def _wipe() -> None:
    doomed = RegisteredModel.objects.filter(name__startswith=PREFIX)
    PromotionPolicy.objects.filter(model__in=doomed).delete()
    ModelAlias.objects.filter(model__in=doomed).delete()
    EvalResult.objects.filter(version__model__in=doomed).delete()
    VersionTag.objects.filter(version__model__in=doomed).delete()
    ModelVersion.objects.filter(model__in=doomed).delete()
    ModelTag.objects.filter(model__in=doomed).delete()
    doomed.delete()


def _seed_postgres(models: int, versions: int, team_ids: list[int], user_id: int) -> None:
    teams = "ARRAY[" + ",".join(str(t) for t in team_ids) + "]"
    metrics = "ARRAY[" + ",".join(f"'{m}'" for m in METRICS) + "]"
    frameworks = "ARRAY[" + ",".join(f"'{f}'" for f in FRAMEWORKS) + "]"
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO registry_registeredmodel (name, team_id, description, catalog_entity_ref,
                latest_version, created_by_id, created_at, updated_at)
            SELECT '{PREFIX}' || lpad(g::text, 4, '0'), ({teams})[1 + g %% {TEAMS}],
                'Bench model ' || g, '', %s, %s,
                now() - interval '400 days', now() - g * interval '1 minute'
            FROM generate_series(1, %s) AS g
            """,
            [versions, user_id, models],
        )
        cur.execute(
            f"""
            INSERT INTO registry_modeltag (model_id, key, value)
            SELECT m.id, t.key, CASE t.key WHEN 'task' THEN
                    (ARRAY['classification','ranking','detection'])[1 + m.id %% 3]
                ELSE 'team-' || (m.id %% {TEAMS}) END
            FROM registry_registeredmodel m, (VALUES ('task'), ('owner')) AS t(key)
            WHERE m.name LIKE '{PREFIX}%%'
            """,
            [],
        )
        cur.execute(
            f"""
            INSERT INTO registry_modelversion (model_id, version, source_uri, run_id, run_link,
                framework, metadata, status, stage, description, created_by_id, created_at,
                updated_at)
            SELECT m.id, v, 's3://bench/' || m.name || '/' || v, md5(m.id || '-' || v),
                'https://mlflow.example.com/#/runs/' || md5(m.id || '-' || v),
                ({frameworks})[1 + m.id %% 4],
                '{{"signature": {{"inputs": "tensor", "outputs": "probabilities"}}}}'::jsonb,
                'ready', CASE WHEN v = %s THEN 'staging' WHEN v = %s - 5 THEN 'production'
                    WHEN v < %s - 5 AND v %% 10 = 0 THEN 'archived' ELSE '' END,
                'Run ' || v, %s, now() - (%s - v) * interval '1 day',
                now() - (%s - v) * interval '1 day'
            FROM registry_registeredmodel m CROSS JOIN generate_series(1, %s) AS v
            WHERE m.name LIKE '{PREFIX}%%'
            ORDER BY m.id, v
            """,
            [versions, versions, versions, user_id, versions, versions, versions],
        )
        cur.execute(
            f"""
            INSERT INTO registry_versiontag (version_id, key, value)
            SELECT mv.id, t.key, CASE t.key WHEN 'git_sha' THEN left(md5(mv.id::text), 7)
                ELSE 'q' || (1 + mv.version %% 4) END
            FROM registry_modelversion mv
            JOIN registry_registeredmodel m ON m.id = mv.model_id AND m.name LIKE '{PREFIX}%%',
                (VALUES ('git_sha'), ('dataset')) AS t(key)
            """,
            [],
        )
        cur.execute(
            f"""
            INSERT INTO registry_evalresult (version_id, metric, value, dataset, split, source,
                recorded_at, created_by_id)
            SELECT mv.id, ({metrics})[k],
                CASE WHEN k <= 5 THEN 0.80 + mv.version * 0.001 + (mv.id %% 7) * 0.002
                    ELSE 100 + ((mv.id * k) %% 150) END,
                '{DATASET}', 'test', 'ci', mv.created_at, NULL
            FROM registry_modelversion mv
            JOIN registry_registeredmodel m ON m.id = mv.model_id AND m.name LIKE '{PREFIX}%%'
            CROSS JOIN generate_series(1, {len(METRICS)}) AS k
            """,
            [],
        )
        cur.execute(
            f"""
            INSERT INTO registry_modelalias (model_id, alias, version_id, updated_by_id,
                updated_at)
            SELECT mv.model_id, a.alias, mv.id, %s, now()
            FROM registry_modelversion mv
            JOIN registry_registeredmodel m ON m.id = mv.model_id AND m.name LIKE '{PREFIX}%%',
                (VALUES ('champion', 0), ('production', 5)) AS a(alias, back)
            WHERE mv.version = %s - a.back AND (a.alias = 'champion' OR m.id %% 3 <> 0)
            """,
            [user_id, versions],
        )
        cur.execute(
            f"""
            INSERT INTO registry_promotionpolicy (model_id, team_id, target_kind, target,
                requires_approval, created_by_id, updated_at)
            SELECT m.id, NULL, 'alias', 'production', m.id %% 2 = 0, %s, now()
            FROM registry_registeredmodel m WHERE m.name LIKE '{PREFIX}%%'
            """,
            [user_id],
        )
        cur.execute(
            f"""
            INSERT INTO registry_policyrule (policy_id, metric, dataset, comparator, threshold,
                relative_to_holder, max_regression_pct, higher_is_better)
            SELECT p.id, r.metric, r.dataset, r.comparator, r.threshold, r.relative, r.pct, true
            FROM registry_promotionpolicy p
            JOIN registry_registeredmodel m ON m.id = p.model_id AND m.name LIKE '{PREFIX}%%',
                (VALUES ('accuracy', '{DATASET}', '>=', 0.85::float8, false, NULL::float8),
                        ('latency_p95_ms', '', '<=', 200::float8, false, NULL::float8),
                        ('f1', '{DATASET}', '', NULL::float8, true, 0.5::float8))
                AS r(metric, dataset, comparator, threshold, relative, pct)
            """,
            [],
        )


def _seed_python(models: int, versions: int, teams: list[Team], user: Any) -> None:
    rng = random.Random(6)
    created = RegisteredModel.objects.bulk_create(
        [
            RegisteredModel(
                name=f"{PREFIX}{i:04d}",
                team=teams[i % TEAMS],
                description=f"Bench model {i}",
                latest_version=versions,
                created_by=user,
            )
            for i in range(1, models + 1)
        ]
    )
    ModelTag.objects.bulk_create(
        [ModelTag(model=m, key="task", value="classification") for m in created]
        + [ModelTag(model=m, key="owner", value=m.team.slug) for m in created]
    )
    for model in created:
        rows = ModelVersion.objects.bulk_create(
            [
                ModelVersion(
                    model=model,
                    version=v,
                    source_uri=f"s3://bench/{model.name}/{v}",
                    run_id=f"{rng.getrandbits(64):016x}",
                    framework=FRAMEWORKS[model.pk % 4],
                    stage="staging" if v == versions else "",
                    created_by=user,
                )
                for v in range(1, versions + 1)
            ]
        )
        VersionTag.objects.bulk_create(
            [VersionTag(version=r, key="git_sha", value=f"{r.pk:07x}") for r in rows]
        )
        EvalResult.objects.bulk_create(
            [
                EvalResult(
                    version=r,
                    metric=metric,
                    value=0.8 + r.version * 0.001 if k < 5 else 100.0 + k,
                    dataset=DATASET,
                    split="test",
                    source="ci",
                )
                for r in rows
                for k, metric in enumerate(METRICS)
            ],
            batch_size=2000,
        )
        ModelAlias.objects.create(model=model, alias="champion", version=rows[-1])
        ModelAlias.objects.create(model=model, alias="production", version=rows[-6])
        policy = PromotionPolicy.objects.create(model=model, target="production")
        PolicyRule.objects.bulk_create(
            [
                PolicyRule(
                    policy=policy,
                    metric="accuracy",
                    comparator=">=",
                    threshold=0.85,
                    dataset=DATASET,
                ),
                PolicyRule(policy=policy, metric="latency_p95_ms", comparator="<=", threshold=200),
                PolicyRule(
                    policy=policy,
                    metric="f1",
                    dataset=DATASET,
                    comparator="",
                    relative_to_holder=True,
                    max_regression_pct=0.5,
                ),
            ]
        )


def _label(ctx: Context) -> str:
    models, versions = scale(ctx)
    return f"{models} models x {versions} versions x {len(METRICS)} metrics"


def model_list(ctx: Context) -> None:
    data = seed(ctx)
    client = ctx.client_for(data["user"])
    ctx.emit_timing("registry.model_list", ctx.measure_get(client, "/models/"), _label(ctx))
    filtered = "/models/?team=bench-reg-3&has_production=true&framework=xgboost&tag=task"
    ctx.emit_timing("registry.model_list_filtered", ctx.measure_get(client, filtered), _label(ctx))


def model_page(ctx: Context) -> None:
    data = seed(ctx)
    client = ctx.client_for(data["user"])
    url = f"/models/{PREFIX}0007/"
    ctx.emit_timing("registry.model_page", ctx.measure_get(client, url), _label(ctx))
    version_url = f"{url}versions/{data['versions'] - 1}/"
    ctx.emit_timing("registry.version_page", ctx.measure_get(client, version_url), _label(ctx))


def version_search(ctx: Context) -> None:
    data = seed(ctx)
    client = ctx.api_client_for(data["user"])
    url = f"/api/v1/model-versions/?name={PREFIX}0007&max_results=50"
    ctx.emit_timing("registry.api.version_search", ctx.measure_get(client, url), _label(ctx))
    by_run = ModelVersion.objects.filter(model__name=f"{PREFIX}0011").values_list(
        "run_id", flat=True
    )[0]
    ctx.emit_timing(
        "registry.api.version_by_run_id",
        ctx.measure_get(client, f"/api/v1/model-versions/?run_id={by_run}"),
        _label(ctx),
    )
    ctx.emit_timing(
        "registry.api.model_search",
        ctx.measure_get(client, "/api/v1/registered-models/?max_results=100"),
        _label(ctx),
    )


def gate(ctx: Context) -> None:
    data = seed(ctx)
    version = ModelVersion.objects.select_related("model").get(
        model__name=f"{PREFIX}0008", version=data["versions"]
    )

    def run() -> None:
        result = evaluate_gate(version, "production")
        if len(result.checks) != 3:
            raise AssertionError("the bench policy has three rules")

    ctx.emit_timing("registry.gate", ctx.measure(run, n=200), _label(ctx))


SCENARIOS = [
    Scenario("registry.model_list", model_list, "model list page (plain and filtered)"),
    Scenario("registry.model_page", model_page, "model page and version page"),
    Scenario("registry.api.version_search", version_search, "API: version and model search"),
    Scenario("registry.gate", gate, "gate evaluation for one version"),
]
