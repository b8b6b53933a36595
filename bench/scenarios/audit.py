"""Audit log page and API at 1,000,000 events (query counts also at 1,000)."""

from __future__ import annotations

from django.db import connection

from apps.accounts.models import Membership, Team
from apps.audit.models import AuditEvent
from bench.harness import Context, Scenario
from tests.factories import UserFactory, platform_lead

FULL = 1_000_000
SMALL = 1_000
TEAMS = 200
USERS = 500
VERBS = [
    "quota.submitted",
    "quota.approved",
    "quota.rejected",
    "quota.applied",
    "token.created",
    "operation.created",
    "operation.succeeded",
    "operation.failed",
    "rollout.approved",
    "catalog.ingested",
    "registry.alias_moved",
    "team.member_added",
]


def _setup_people() -> tuple[list[int], list[int]]:
    teams = [
        Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(TEAMS)
    ]
    users = [UserFactory.create(username=f"bench-user-{i}") for i in range(USERS)]
    for i, user in enumerate(users):
        Membership.objects.get_or_create(user=user, team=teams[i % TEAMS])
    return [t.pk for t in teams], [u.pk for u in users]


def _fill_to(target: int, team_ids: list[int], user_ids: list[int]) -> None:
    """Insert events in the database itself until there are ``target`` of them."""
    missing = target - AuditEvent.objects.count()
    if missing <= 0:
        return
    verbs = "ARRAY[" + ",".join(f"'{v}'" for v in VERBS) + "]"
    t0, u0 = min(team_ids), min(user_ids)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                INSERT INTO audit_auditevent (actor_id, actor_label, verb, target_type, target_id,
                    target_repr, team_id, before, after, reason, request_id, created_at)
                SELECT {u0} + (g %% {USERS}), 'bench-user-' || (g %% {USERS}),
                    ({verbs})[1 + g %% {len(VERBS)}], 'quotas.quotarequest', (g / 3)::text,
                    'request ' || (g / 3), {t0} + (g %% {TEAMS}), NULL,
                    jsonb_build_object('status', 'approved', 'gpus', g %% 8), '', md5(g::text),
                    now() - ((%s - g) * interval '30 seconds')
                FROM generate_series(1, %s) AS g
                """,
                [missing, missing],
            )
        else:
            verb_case = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(VERBS))
            cursor.execute(
                f"""
                WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < %s)
                INSERT INTO audit_auditevent (actor_id, actor_label, verb, target_type, target_id,
                    target_repr, team_id, before, after, reason, request_id, created_at)
                SELECT {u0} + (g % {USERS}), 'bench-user-' || (g % {USERS}),
                    CASE g % {len(VERBS)} {verb_case} END, 'quotas.quotarequest',
                    CAST(g / 3 AS TEXT), 'request ' || (g / 3), {t0} + (g % {TEAMS}), NULL,
                    '{{"status": "approved"}}', '', hex(randomblob(8)),
                    datetime('now', '-' || ((%s - g) * 30) || ' seconds')
                FROM seq
                """,
                [missing, missing],
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audit_auditevent")


def run(ctx: Context) -> None:
    team_ids, user_ids = _setup_people()
    lead = platform_lead(username="bench-lead")
    member = UserFactory.create(username="bench-user-7")
    lead_client = ctx.client_for(lead)
    api = ctx.api_client_for(lead)
    _fill_to(ctx.pick(FULL, SMALL), team_ids, user_ids)
    total = AuditEvent.objects.count()
    scale = f"{total} events"
    deep_id = AuditEvent.objects.order_by("id").values_list("id", flat=True)[total // 2]
    runs = [
        ("audit.list", lead_client, "/audit/"),
        ("audit.list.team", lead_client, "/audit/?team=bench-team-17"),
        ("audit.list.actor", lead_client, "/audit/?actor=bench-user-42"),
        ("audit.list.verb", lead_client, "/audit/?verb=quota.approved"),
        ("audit.list.deep", lead_client, f"/audit/?before={deep_id}"),
        ("audit.list.member", ctx.client_for(member), "/audit/"),
        ("audit.api", api, "/api/v1/audit-events/"),
    ]
    for name, client, url in runs:
        ctx.emit_timing(name, ctx.measure_get(client, url, n=ctx.pick(100, 5)), scale)


SCENARIOS = [Scenario("audit.list", run, "audit log page and API at 1,000,000 events")]
