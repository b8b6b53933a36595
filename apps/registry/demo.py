"""Demo data of the registry: models of the vision, nlp and recsys teams, with versions,
eval results, aliases, promotion policies (one needing a lead's approval) and one
promotion request waiting for the lead ``lin``. Idempotent: existing models are kept."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model

from apps.accounts.models import Team
from apps.registry import services
from apps.registry.models import RegisteredModel

DATASET = "holdout-2026"

# name, team, owner (username), framework, versions, description, tags, catalog ref
MODELS = [
    (
        "resnet-defects",
        "vision",
        "ada",
        "pytorch",
        6,
        "Finds surface defects on the line.",
        {"task": "classification", "domain": "manufacturing"},
        "component:default/defect-api",
    ),
    (
        "shelf-detector",
        "vision",
        "ada",
        "pytorch",
        4,
        "Detects empty shelf slots in store photos.",
        {"task": "detection"},
        "",
    ),
    (
        "support-intent",
        "nlp",
        "ada",
        "transformers",
        5,
        "Routes support tickets by intent.",
        {"task": "classification", "language": "en"},
        "",
    ),
    (
        "doc-ranker",
        "nlp",
        "ada",
        "transformers",
        3,
        "Re-ranks retrieved passages for RAG.",
        {"task": "ranking"},
        "",
    ),
    (
        "fraud-detector",
        "recsys",
        "grace",
        "xgboost",
        7,
        "Scores card transactions for fraud.",
        {"task": "classification", "pii": "yes"},
        "component:default/fraud-api",
    ),
    (
        "home-feed-ranker",
        "recsys",
        "grace",
        "lightgbm",
        4,
        "Orders the home feed.",
        {"task": "ranking"},
        "",
    ),
]


def seed(out: Any) -> None:
    """Create the demo models (skipping those that exist) and the pending request."""
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["ada", "grace", "lin", "omar"])
    }
    teams = {t.slug: t for t in Team.objects.filter(slug__in=["vision", "nlp", "recsys"])}
    operator = users["omar"]
    created = 0
    for name, slug, owner, framework, count, description, tags, ref in MODELS:
        if RegisteredModel.objects.filter(name=name).exists():
            continue
        created += 1
        actor = users[owner]
        model = services.create_model(
            actor=actor,
            name=name,
            team=teams[slug],
            description=description,
            tags=tags,
            catalog_entity_ref=ref,
        )
        rng = random.Random(name)
        versions = []
        accuracy = 0.86 + rng.random() * 0.02
        for number in range(1, count + 1):
            accuracy = min(0.985, accuracy + rng.uniform(-0.004, 0.018))
            version = services.create_version(
                model,
                actor=actor,
                source_uri=f"s3://ml-artifacts/{slug}/{name}/{number}/model",
                run_id=f"{rng.getrandbits(64):016x}",
                run_link=f"https://mlflow.example.com/#/experiments/7/runs/{number}",
                framework=framework,
                metadata={"signature": {"inputs": "tensor", "outputs": "probabilities"}},
                description=f"Training run {number}.",
                tags={"git_sha": f"{rng.getrandbits(28):07x}"},
            )
            services.add_eval_results(
                version,
                [
                    {
                        "metric": "accuracy",
                        "value": round(accuracy, 4),
                        "dataset": DATASET,
                        "split": "test",
                        "source": "ci",
                    },
                    {
                        "metric": "f1",
                        "value": round(accuracy - 0.03, 4),
                        "dataset": DATASET,
                        "split": "test",
                        "source": "ci",
                    },
                    {
                        "metric": "latency_p95_ms",
                        "value": round(rng.uniform(120, 240), 1),
                        "dataset": DATASET,
                        "split": "test",
                        "source": "load-test",
                    },
                ],
                actor=actor,
            )
            versions.append(version)
        services.save_policy(
            actor=operator,
            model=model,
            target_kind="alias",
            target="production",
            requires_approval=name == "fraud-detector",
            rules=[
                {"metric": "accuracy", "comparator": ">=", "threshold": 0.9, "dataset": DATASET},
                {"metric": "latency_p95_ms", "comparator": "<=", "threshold": 230},
                {
                    "metric": "f1",
                    "dataset": DATASET,
                    "relative_to_holder": True,
                    "max_regression_pct": 0.5,
                },
            ],
        )
        services.set_alias(model, "champion", versions[-1], actor=actor, reason="newest run")
        for version in reversed(versions[:-1]):
            gate = services.gate_for(version, target="production", target_kind="alias")
            if not gate.passed:
                continue
            if gate.requires_approval:
                _approved(version, actor, users["lin"])
            else:
                services.request_promotion(
                    version, target="production", actor=actor, reason="demo: best so far"
                )
            break
        if name == "fraud-detector":
            _pending_request(versions[-1], actor)
    out.write(f"  registry: {created} new model(s); {RegisteredModel.objects.count()} in all")


def _approved(version: Any, requester: Any, lead: Any) -> None:
    req = services.request_promotion(
        version, target="production", actor=requester, reason="demo: first production model"
    )
    services.approve_promotion(req, actor=lead, reason="demo: reviewed the eval results")


def _pending_request(version: Any, requester: Any) -> None:
    """A request for the lead to decide: the newest version, with results that pass."""
    services.add_eval_results(
        version,
        [
            {"metric": "accuracy", "value": 0.962, "dataset": DATASET, "source": "ci"},
            {"metric": "f1", "value": 0.95, "dataset": DATASET, "source": "ci"},
            {"metric": "latency_p95_ms", "value": 141.0, "dataset": DATASET, "source": "load"},
        ],
        actor=requester,
    )
    services.request_promotion(
        version,
        target="production",
        actor=requester,
        reason="Better recall on the Q3 holdout; shadow traffic looked good.",
    )
