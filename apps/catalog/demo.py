"""Demo data of the catalog: an ML-flavoured catalog for the demo teams, and default checks.

Each team's descriptors are ingested as that team's own source, exactly as a team would
bring its catalog-info.yaml, so running the seed again changes nothing.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Team
from apps.catalog import services
from apps.catalog.choices import SourceKind
from apps.catalog.models import ScorecardCheck
from apps.catalog.scorecards import DEFAULT_CHECKS

HEADER = "apiVersion: backstage.io/v1alpha1\n"


def _group(slug: str, title: str, members: list[str], parent: str = "") -> str:
    parent_line = f"  parent: {parent}\n" if parent else ""
    return (
        f"{HEADER}kind: Group\nmetadata:\n  name: {slug}\n  title: {title}\n"
        f"spec:\n  type: team\n  profile:\n    displayName: {title}\n"
        f"{parent_line}  children: []\n  members: [{', '.join(members)}]\n"
    )


def _user(name: str, display: str, groups: list[str]) -> str:
    return (
        f"{HEADER}kind: User\nmetadata:\n  name: {name}\nspec:\n"
        f"  profile:\n    displayName: {display}\n    email: {name}@example.com\n"
        f"  memberOf: [{', '.join(groups)}]\n"
    )


def _endpoint(
    name: str,
    team: str,
    system: str,
    *,
    description: str,
    runtime: str,
    model: str = "",
    drift: str = "",
    cluster: str = "gpu-eu-1",
    docs: bool = True,
    tags: str = "[serving, gpu]",
    provides: str = "",
) -> str:
    annotations = [
        f"    tarmac.io/cluster: {cluster}",
        f"    tarmac.io/namespace: {team}-serving",
        f"    serving.kserve.io/inferenceservice: {name}",
        f"    tarmac.io/serving-runtime: {runtime}",
    ]
    if model:
        annotations.append(f"    tarmac.io/registered-model: {model}")
    if drift:
        annotations.append(f"    tarmac.io/drift-monitor: {drift}")
    links = (
        f"  links:\n    - url: https://docs.example.com/{team}/{name}\n"
        "      title: Runbook docs\n      icon: docs\n"
        if docs
        else ""
    )
    provides_line = f"  providesApis: [{provides}]\n" if provides else ""
    return (
        f"{HEADER}kind: Component\nmetadata:\n  name: {name}\n  description: {description}\n"
        f"  tags: {tags}\n  annotations:\n"
        + "\n".join(annotations)
        + "\n"
        + links
        + f"spec:\n  type: model-endpoint\n  lifecycle: production\n  owner: group:{team}\n"
        f"  system: {system}\n{provides_line}"
    )


def _component(
    name: str,
    team: str,
    system: str,
    *,
    type: str,
    description: str,
    lifecycle: str = "production",
    tags: str = "[]",
    extra: str = "",
    docs: bool = False,
) -> str:
    links = (
        f"  links:\n    - url: https://docs.example.com/{team}/{name}\n      title: Docs\n"
        if docs
        else ""
    )
    return (
        f"{HEADER}kind: Component\nmetadata:\n  name: {name}\n  description: {description}\n"
        f"  tags: {tags}\n{links}spec:\n  type: {type}\n  lifecycle: {lifecycle}\n"
        f"  owner: group:{team}\n  system: {system}\n{extra}"
    )


def _system(name: str, team: str, domain: str, description: str) -> str:
    return (
        f"{HEADER}kind: System\nmetadata:\n  name: {name}\n  description: {description}\n"
        f"  links:\n    - url: https://docs.example.com/systems/{name}\n      title: System docs\n"
        f"spec:\n  owner: group:{team}\n  domain: {domain}\n"
    )


def _api(name: str, team: str, system: str, description: str, kind: str = "openapi") -> str:
    return (
        f"{HEADER}kind: API\nmetadata:\n  name: {name}\n  description: {description}\n"
        f"  tags: [rest]\n  links:\n    - url: https://docs.example.com/apis/{name}\n"
        f"      title: API docs\nspec:\n  type: {kind}\n  lifecycle: production\n"
        f"  owner: group:{team}\n  system: {system}\n  definition: |\n"
        f"    openapi: 3.0.0\n    info: {{title: {name}, version: 1.0.0}}\n"
        f"    paths:\n      /v1/predict:\n        post: {{summary: Predict}}\n"
    )


def _resource(name: str, team: str, system: str, type: str, description: str) -> str:
    return (
        f"{HEADER}kind: Resource\nmetadata:\n  name: {name}\n  description: {description}\n"
        f"spec:\n  type: {type}\n  owner: group:{team}\n  system: {system}\n"
    )


CATALOG: dict[str, list[str]] = {
    "platform": [
        _group("platform", "AI Platform", ["lin", "omar"]),
        _user("lin", "Lin Chen", ["platform"]),
        _user("omar", "Omar Haddad", ["platform"]),
        (
            f"{HEADER}kind: Domain\nmetadata:\n  name: ml-products\n"
            "  description: Models that serve the product.\nspec:\n  owner: group:platform\n"
        ),
        (
            f"{HEADER}kind: Domain\nmetadata:\n  name: ml-platform\n"
            "  description: The paved road itself.\nspec:\n  owner: group:platform\n"
        ),
        _system("ml-platform", "platform", "ml-platform", "GPUs, registry, rollouts, gateway."),
        _component(
            "model-registry",
            "platform",
            "ml-platform",
            type="service",
            docs=True,
            description="Versions, aliases and eval results of every model.",
            tags="[registry]",
            extra="  dependsOn: [resource:registry-db]\n  providesApis: [registry-api]\n",
        ),
        _component(
            "inference-gateway",
            "platform",
            "ml-platform",
            type="service",
            docs=True,
            description="OpenAI-compatible gateway in front of every LLM endpoint.",
            tags="[llm, gateway]",
            extra="  providesApis: [inference-api]\n",
        ),
        _api("registry-api", "platform", "ml-platform", "Register versions and eval results."),
        _api("inference-api", "platform", "ml-platform", "Chat and embedding completions."),
        _resource(
            "registry-db", "platform", "ml-platform", "database", "PostgreSQL of the registry."
        ),
        _resource(
            "gpu-eu-1",
            "platform",
            "ml-platform",
            "kubernetes-cluster",
            "A100 and H100 nodes for training and serving.",
        ),
        _resource("feature-store", "platform", "ml-platform", "feature-store", "Online features."),
    ],
    "vision": [
        _group("vision", "Vision", ["ada"]),
        _user("ada", "Ada Lovelace", ["vision", "nlp"]),
        _system("vision-serving", "vision", "ml-products", "Image classification and detection."),
        _endpoint(
            "resnet50-detector",
            "vision",
            "vision-serving",
            runtime="triton",
            description="Product-photo defect detector.",
            model="vision/resnet50-defects",
            drift="resnet50-detector-drift",
            provides="vision-api",
        ),
        _endpoint(
            "ocr-endpoint",
            "vision",
            "vision-serving",
            runtime="custom-flask",
            docs=False,
            description="Receipt OCR (legacy Flask server).",
            tags="[serving, ocr]",
        ),
        _component(
            "image-labeling-pipeline",
            "vision",
            "vision-serving",
            type="pipeline",
            description="Nightly labelling and retraining of the detector.",
            tags="[training, gpu]",
            extra="  dependsOn: [resource:gpu-eu-1]\n",
        ),
        _api("vision-api", "vision", "vision-serving", "Detect defects in an image."),
        (
            f"{HEADER}kind: Component\nmetadata:\n  name: legacy-thumbnailer\n"
            "  description: Thumbnail service nobody has claimed since the reorg.\n"
            "spec:\n  type: service\n  lifecycle: production\n  owner: user:ada\n"
        ),
    ],
    "nlp": [
        _group("nlp", "Language", ["ada"]),
        _system("search-ranking", "nlp", "ml-products", "Retrieval, embeddings and re-ranking."),
        _endpoint(
            "embedding-service",
            "nlp",
            "search-ranking",
            runtime="kserve-huggingfaceserver",
            description="Sentence embeddings for search.",
            model="nlp/e5-large",
            drift="embedding-drift",
            tags="[serving, embeddings]",
        ),
        _endpoint(
            "llm-rag-endpoint",
            "nlp",
            "search-ranking",
            runtime="vllm",
            description="RAG answers over the help centre.",
            model="nlp/llama-3-8b-rag",
            tags="[serving, llm]",
        ),
        _component(
            "reranker-training",
            "nlp",
            "search-ranking",
            type="pipeline",
            description="Weekly fine-tuning of the cross-encoder re-ranker.",
            lifecycle="experimental",
            tags="[training]",
            extra="  consumesApis: [inference-api]\n  dependsOn: [resource:gpu-eu-1]\n",
        ),
        _api("search-api", "nlp", "search-ranking", "Semantic search over documents."),
    ],
    "recsys": [
        _group("recsys", "Recommendations", ["grace"]),
        _user("grace", "Grace Hopper", ["recsys"]),
        _system("recommendations", "recsys", "ml-products", "Home-feed ranking and fraud scoring."),
        _endpoint(
            "fraud-scorer",
            "recsys",
            "recommendations",
            runtime="triton",
            description="Real-time card-fraud probability.",
            model="recsys/fraud-gbdt",
            drift="fraud-scorer-drift",
            tags="[serving, fraud]",
            provides="recs-api",
        ),
        _endpoint(
            "recs-ranker",
            "recsys",
            "recommendations",
            runtime="torchserve",
            docs=False,
            description="Two-tower home-feed ranker.",
            tags="[serving, ranking]",
        ),
        _component(
            "feature-pipeline",
            "recsys",
            "recommendations",
            type="pipeline",
            description="Streams click events into the feature store.",
            tags="[features]",
            extra="  dependsOn: [resource:feature-store]\n",
        ),
        _api("recs-api", "recsys", "recommendations", "Ranked items for a user."),
        _component(
            "ab-test-notebooks",
            "recsys",
            "recommendations",
            type="library",
            description="Shared notebooks for ranking experiments.",
            lifecycle="prototype",
        ),
    ],
}


def seed(out: Any) -> None:
    """Ingest each demo team's catalog as its own source, the default checks, and today's
    adoption. Idempotent."""
    created = 0
    for slug, documents in CATALOG.items():
        team = Team.objects.get(slug=slug)
        source = services.get_source(
            kind=SourceKind.DEMO, name=f"demo catalog of {slug}", team=team, actor=None
        )
        result = services.ingest_file("---\n".join(documents), actor=None, source=source)
        created += len(result.created)
    for position, check in enumerate(DEFAULT_CHECKS):
        ScorecardCheck.objects.get_or_create(
            name=check["name"], defaults={**check, "position": position}
        )
    services.record_adoption()
    out.write(f"  catalog: {created} entities created, {len(DEFAULT_CHECKS)} checks")
