"""Demo data of the quotas app: GPU quota requests in every interesting state on train-eu.

Needs the accounts and clusters demos first (teams, users, the train-eu cluster and its
namespaces). It does not need the sandbox to be running: past grants are written as
history (with their audit events), and one approved grant is left ``applying`` with a
pending apply Operation that the worker completes once ``make run`` has started.

The grants of team-vision match what worker/sandbox/demo.yaml holds (24 GPUs: 16 H100 +
8 A100). Those of team-nlp do not (the sandbox holds 32, and 16 H100 in the ClusterQueue,
for 8 H100 + 16 A100 granted): the reconciler flags that namespace as drifted within five
minutes and restores it — "someone raised the quota by hand".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit.services import record
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.services import create_operation
from apps.quotas import services
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import (
    AutoApproveRule,
    KueueFlavorMapping,
    NamespaceQuotaState,
    QuotaRequest,
)

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
FLAVORS = {H100: "h100-80gb", A100: "a100-80gb"}  # ResourceFlavors of demo.yaml

S = QuotaStatus

# key, team, namespace, product, gpus, granted, start offset, end offset, requester,
# status, justification, decision reason
REQUESTS: list[tuple[Any, ...]] = [
    (
        "demo-vision-h100",
        "vision",
        "team-vision",
        H100,
        16,
        16,
        -20,
        40,
        "ada",
        S.ACTIVE,
        "ViT-L pretraining on the 2026 image corpus.",
        "",
    ),
    (
        "demo-vision-a100",
        "vision",
        "team-vision",
        A100,
        8,
        8,
        -20,
        40,
        "ada",
        S.ACTIVE,
        "Detection fine-tuning and evaluation sweeps.",
        "",
    ),
    (
        "demo-nlp-h100",
        "nlp",
        "team-nlp",
        H100,
        12,
        8,
        -10,
        50,
        "ada",
        S.ACTIVE,
        "Retrieval model distillation.",
        "8 H100 now; ask again when the recsys run ends.",
    ),
    (
        "demo-nlp-a100",
        "nlp",
        "team-nlp",
        A100,
        16,
        16,
        -10,
        50,
        "ada",
        S.ACTIVE,
        "Summariser fine-tuning.",
        "",
    ),
    (
        "demo-recsys-a100",
        "recsys",
        "team-recsys",
        A100,
        8,
        8,
        0,
        30,
        "grace",
        S.APPLYING,
        "Two-tower retraining for the spring catalogue.",
        "",
    ),
    (
        "demo-recsys-h100",
        "recsys",
        "team-recsys",
        H100,
        4,
        None,
        1,
        14,
        "grace",
        S.SUBMITTED,
        "Fraud model experiments with a larger transformer.",
        "",
    ),
    (
        "demo-vision-old",
        "vision",
        "team-vision",
        H100,
        4,
        4,
        -60,
        -31,
        "ada",
        S.EXPIRED,
        "Hyper-parameter search (finished).",
        "",
    ),
    (
        "demo-nlp-big",
        "nlp",
        "team-nlp",
        H100,
        64,
        None,
        2,
        30,
        "ada",
        S.REJECTED,
        "Pretrain a 70B model from scratch.",
        "More than the cluster has; use the shared pool.",
    ),
    (
        "demo-vision-dup",
        "vision",
        "team-vision",
        A100,
        2,
        None,
        3,
        5,
        "ada",
        S.CANCELLED,
        "Quick ablation (asked twice by mistake).",
        "",
    ),
]


def seed(out: Any) -> None:
    """Create the demo requests once (re-running leaves existing ones alone)."""
    cluster = Cluster.objects.filter(name="train-eu").first()
    if cluster is None:
        out.write("  skipped: no train-eu cluster (the clusters demo creates it)")
        return
    for product, flavor in FLAVORS.items():
        KueueFlavorMapping.objects.update_or_create(
            cluster=cluster,
            gpu_product=product,
            defaults={"flavor": flavor, "cluster_queue_template": "team-{team}"},
        )
    users = {
        u.username: u for u in get_user_model().objects.filter(username__in=["ada", "grace", "lin"])
    }
    teams = {t.slug: t for t in Team.objects.filter(slug__in=["vision", "nlp", "recsys"])}
    namespaces = {ns.name: ns for ns in TeamNamespace.objects.filter(cluster=cluster)}
    if "vision" in teams:
        AutoApproveRule.objects.get_or_create(
            team=teams["vision"], cluster=cluster, defaults={"max_gpus": 2, "max_days": 7}
        )
    lead = users.get("lin")
    now = timezone.now()
    today = timezone.localdate(now)
    created = 0
    for (
        key,
        slug,
        ns_name,
        product,
        gpus,
        granted,
        start,
        end,
        who,
        status,
        why,
        reason,
    ) in REQUESTS:
        requester = users.get(who)
        if slug not in teams or ns_name not in namespaces or requester is None or lead is None:
            continue
        if QuotaRequest.objects.filter(requested_by=requester, submit_key=key).exists():
            continue
        submitted_at = now + timedelta(days=min(start, 0) - 2, hours=-3)
        req = QuotaRequest.objects.create(
            team=teams[slug],
            cluster=cluster,
            namespace=namespaces[ns_name],
            gpu_product=product,
            gpus=gpus,
            granted_gpus=granted,
            starts_on=today + timedelta(days=start),
            ends_on=today + timedelta(days=end),
            justification=why,
            requested_by=requester,
            submit_key=key,
            created_at=submitted_at,
        )
        created += 1
        _history(req, status=status, lead=lead, reason=reason, submitted_at=submitted_at, now=now)
    for ns_name in ("team-vision", "team-nlp"):
        namespace = namespaces.get(ns_name)
        if namespace is not None:
            NamespaceQuotaState.objects.get_or_create(
                namespace=namespace,
                defaults={
                    "desired_gpus": 24,
                    "applied_gpus": 24,
                    "last_applied_at": now - timedelta(days=10),
                },
            )
    out.write(
        f"  quota requests: {created} created on {cluster.name} "
        f"({QuotaRequest.objects.filter(cluster=cluster).count()} in all); "
        "one waits for lin, one is applying"
    )


def _history(
    req: QuotaRequest, *, status: str, lead: Any, reason: str, submitted_at: Any, now: Any
) -> None:
    """Write the request's past as it would have happened, audit events included."""
    record(
        actor=req.requested_by,
        verb="quota.submitted",
        target=req,
        team=req.team,
        after={"status": S.SUBMITTED, "gpus": req.gpus, "gpu_product": req.gpu_product},
        reason=req.justification,
    )
    decided_at = submitted_at + timedelta(hours=5)
    fields: dict[str, Any] = {"status": status}
    if status == S.SUBMITTED:
        return
    if status == S.CANCELLED:
        fields.update(ended_at=decided_at, ended_by=req.requested_by, end_reason="asked twice")
        record(
            actor=req.requested_by,
            verb="quota.cancelled",
            target=req,
            team=req.team,
            before={"status": S.SUBMITTED},
            after={"status": S.CANCELLED},
            reason="asked twice",
        )
    elif status == S.REJECTED:
        fields.update(decided_by=lead, decided_at=decided_at, decision_reason=reason)
        record(
            actor=lead,
            verb="quota.rejected",
            target=req,
            team=req.team,
            before={"status": S.SUBMITTED},
            after={"status": S.REJECTED},
            reason=reason,
        )
    else:
        fields.update(decided_by=lead, decided_at=decided_at, decision_reason=reason)
        record(
            actor=lead,
            verb="quota.approved",
            target=req,
            team=req.team,
            before={"status": S.SUBMITTED},
            after={"status": S.APPROVED, "granted_gpus": req.granted_gpus},
            reason=reason,
        )
    if status in (S.ACTIVE, S.EXPIRED):
        fields["activated_at"] = decided_at + timedelta(minutes=1)
        record(
            actor=None,
            verb="quota.activated",
            target=req,
            team=req.team,
            before={"status": S.APPLYING},
            after={"status": S.ACTIVE},
        )
    if status == S.EXPIRED:
        fields.update(ended_at=now - timedelta(days=30), end_reason="end date passed")
        record(
            actor=None,
            verb="quota.expired",
            target=req,
            team=req.team,
            before={"status": S.ACTIVE},
            after={"status": S.EXPIRED},
            reason=f"the grant ended on {req.ends_on.isoformat()}",
        )
    QuotaRequest.objects.filter(pk=req.pk).update(**fields)
    if status == S.APPLYING:
        # Left for the worker: the apply Operation is enqueued when the seed commits.
        op = create_operation(
            kind=services.APPLY_KIND,
            actor=lead,
            target=req,
            team=req.team,
            payload={
                "request_id": req.pk,
                "namespace_id": req.namespace_id,
                "cluster": req.cluster.name,
                "namespace": req.namespace.name,
                "gpu_product": req.gpu_product,
                "gpus": req.granted_gpus,
            },
        )
        QuotaRequest.objects.filter(pk=req.pk).update(apply_operation=op)
