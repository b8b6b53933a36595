"""GPU quotas: the approval queue with 10,000 requests across 200 teams (query counts also
at 200 requests), and 500 approvals applied end to end — Redis, one real Celery worker
process, the Kubernetes API sandbox — until every grant is active (20 in the small run).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from apps.accounts.models import Membership, Team
from apps.clusters.models import Cluster, GpuCapacity, TeamNamespace
from apps.quotas import services
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import QuotaRequest
from bench.harness import Context, Scenario
from tests.factories import platform_lead
from worker.kube import clear_client_cache
from worker.sandbox import seed
from worker.sandbox.testing import running_sandbox

ROOT = Path(__file__).resolve().parents[2]
H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
PRODUCTS = (H100, A100)
TEAMS = 200
QUEUE_CLUSTERS = ("bench-quota-eu", "bench-quota-us")
# A request's life: most wait or are settled; the queue's default view is "submitted".
STATUS_MIX = [
    QuotaStatus.SUBMITTED,
    QuotaStatus.SUBMITTED,
    QuotaStatus.SUBMITTED,
    QuotaStatus.ACTIVE,
    QuotaStatus.ACTIVE,
    QuotaStatus.EXPIRED,
    QuotaStatus.REJECTED,
    QuotaStatus.CANCELLED,
    QuotaStatus.REVOKED,
    QuotaStatus.FAILED,
]


# ----------------------------------------------------------------------- shared set-up


def _teams_and_people() -> tuple[list[Team], list[Any], Any]:
    teams = [
        Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(TEAMS)
    ]
    requesters = []
    user_model = get_user_model()
    for i, team in enumerate(teams):
        # No password (hashing 200 of them costs seconds): the bench signs in with force_login.
        user, _ = user_model.objects.get_or_create(username=f"bench-quota-user-{i}")
        Membership.objects.get_or_create(user=user, team=team)
        requesters.append(user)
    return teams, requesters, platform_lead(username="bench-quota-lead")


def _cluster(name: str, *, api_url: str = "http://127.0.0.1:9") -> Cluster:
    cluster, _ = Cluster.objects.update_or_create(
        name=name,
        defaults={
            "auth_method": Cluster.AuthMethod.NONE,
            "api_url": api_url,
            "gpu_products": list(PRODUCTS),
            "timeout_seconds": 10,
            "is_active": True,
            "uses_kueue": False,
        },
    )
    for product in PRODUCTS:
        GpuCapacity.objects.update_or_create(
            cluster=cluster,
            gpu_product=product,
            defaults={"allocatable": 1_000_000, "requested": 0, "updated_at": timezone.now()},
        )
    return cluster


def _namespaces(cluster: Cluster, teams: list[Team]) -> list[TeamNamespace]:
    existing = {ns.team_id: ns for ns in TeamNamespace.objects.filter(cluster=cluster)}
    missing = [
        TeamNamespace(cluster=cluster, team=team, name=f"ns-{team.slug}")
        for team in teams
        if team.pk not in existing
    ]
    TeamNamespace.objects.bulk_create(missing)
    by_team = {ns.team_id: ns for ns in TeamNamespace.objects.filter(cluster=cluster)}
    return [by_team[team.pk] for team in teams]


# ----------------------------------------------------------------------- the queue


def _fill_queue(target: int, teams: list[Team], requesters: list[Any]) -> None:
    """Requests on the two queue clusters until there are ``target`` of them."""
    clusters = [_cluster(name) for name in QUEUE_CLUSTERS]
    namespaces = [_namespaces(cluster, teams) for cluster in clusters]
    qs = QuotaRequest.objects.filter(cluster__in=clusters)
    have = qs.count()
    if have >= target:
        return
    now = timezone.now()
    today = timezone.localdate()
    batch: list[QuotaRequest] = []
    for i in range(have, target):
        team_index = (i * 7) % TEAMS
        status = STATUS_MIX[i % len(STATUS_MIX)]
        gpus = 1 + (i * 13) % 16
        start = today + timedelta(days=(i % 30) - 10)
        batch.append(
            QuotaRequest(
                team=teams[team_index],
                cluster=clusters[i % 2],
                namespace=namespaces[i % 2][team_index],
                gpu_product=PRODUCTS[(i // 2) % 2],
                gpus=gpus,
                granted_gpus=None if status in ("submitted", "cancelled", "rejected") else gpus,
                starts_on=start,
                ends_on=start + timedelta(days=7 + i % 60),
                justification=f"Bench training run {i}.",
                requested_by=requesters[team_index],
                status=status,
                created_at=now - timedelta(minutes=(target - i) * 9),
            )
        )
        if len(batch) == 2000:
            QuotaRequest.objects.bulk_create(batch)
            batch = []
    QuotaRequest.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE quotas_quotarequest")


def run_queue(ctx: Context) -> None:
    teams, requesters, lead = _teams_and_people()
    _fill_queue(ctx.pick(10_000, 200), teams, requesters)
    total = QuotaRequest.objects.filter(cluster__name__in=QUEUE_CLUSTERS).count()
    scale = f"{total} requests, {TEAMS} teams"
    lead_client = ctx.client_for(lead)
    member_client = ctx.client_for(requesters[17])
    api = ctx.api_client_for(lead)
    deep = max(1, ctx.pick(150, 3))
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "request-table"}
    runs: list[tuple[str, Any, str, dict[str, str]]] = [
        ("quotas.queue", lead_client, "/quotas/", {}),
        ("quotas.queue.filtered", lead_client, "/quotas/?team=bench-team-17&status=any", {}),
        ("quotas.queue.sorted", lead_client, f"/quotas/?sort=-gpus&product={H100}", {}),
        ("quotas.queue.deep", lead_client, f"/quotas/?status=any&page={deep}", {}),
        ("quotas.queue.htmx", lead_client, "/quotas/?status=any&sort=team", htmx),
        ("quotas.queue.member", member_client, "/quotas/", {}),
        ("quotas.team", lead_client, "/quotas/teams/bench-team-17/", {}),
        ("quotas.api", api, "/api/v1/quota-requests/?status=submitted", {}),
    ]
    for name, client, url, headers in runs:
        ctx.emit_timing(name, _measure(ctx, client, url, headers), scale)
    Cluster.objects.filter(name__in=QUEUE_CLUSTERS).update(is_active=False)


def _measure(ctx: Context, client: Any, url: str, headers: dict[str, str]) -> Any:
    def fetch() -> None:
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise AssertionError(f"GET {url} answered {response.status_code}")

    return ctx.measure(fetch, n=ctx.pick(200, 5))


# ----------------------------------------------------------------------- end to end

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}{host}:{db.get('PORT') or 5432}/{db['NAME']}"


class _Worker:
    """``celery -A worker worker`` on a private queue, bound to the bench database."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.log_path = ROOT / "var" / f"bench-worker-{queue}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_QUEUE": queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "OPERATION_RETRY_BASE_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
        }
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "worker",
                    "worker",
                    "--pool",
                    "solo",
                    "-Q",
                    queue,
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bench worker did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class _SendTo:
    """Point this process's Celery app at Redis and the worker's queue (not eager)."""

    app: Any

    def __init__(self, queue: str) -> None:
        from worker import app as celery_app

        # Typed as Any: Celery's stubs make these settings read-only, and the pool
        # attributes private; the test suite's live_worker fixture does the same.
        app: Any = celery_app
        self.app = app
        self.previous = (
            app.conf.task_always_eager,
            app.conf.broker_url,
            app.conf.task_default_queue,
            app.conf.broker_transport_options,
        )
        app.conf.task_always_eager = False
        app.conf.broker_url = REDIS_URL
        app.conf.task_default_queue = queue
        app.conf.broker_transport_options = {}
        self._reset()

    def _reset(self) -> None:
        from kombu import pools

        pools.reset()
        self.app._pool = None
        self.app.amqp._producer_pool = None

    def restore(self) -> None:
        (
            self.app.conf.task_always_eager,
            self.app.conf.broker_url,
            self.app.conf.task_default_queue,
            self.app.conf.broker_transport_options,
        ) = self.previous
        self._reset()


def run_apply(ctx: Context) -> None:
    count = ctx.pick(500, 20)
    scale = f"{count} approvals, 1 worker"
    if not _redis_answers():
        print(f"   skipped quotas.apply_e2e: no Redis answers at {REDIS_URL}")
        return
    teams, requesters, lead = _teams_and_people()
    namespaces_used = 50
    with running_sandbox(
        seed=[seed.namespace(f"ns-bench-team-{i}") for i in range(namespaces_used)]
    ) as sandbox:
        clear_client_cache()
        cluster = _cluster("bench-apply", api_url=sandbox.url)
        namespaces = _namespaces(cluster, teams)[:namespaces_used]
        # Earlier runs' grants were applied to an earlier sandbox: settle them.
        QuotaRequest.objects.filter(cluster=cluster).exclude(
            status__in=[QuotaStatus.EXPIRED, QuotaStatus.REJECTED]
        ).update(status=QuotaStatus.EXPIRED)
        today = timezone.localdate()
        batch = f"bench-{uuid.uuid4().hex[:8]}"
        QuotaRequest.objects.bulk_create(
            [
                QuotaRequest(
                    team=namespaces[i % namespaces_used].team,
                    cluster=cluster,
                    namespace=namespaces[i % namespaces_used],
                    gpu_product=PRODUCTS[i % 2],
                    gpus=1 + i % 4,
                    starts_on=today,
                    ends_on=today + timedelta(days=7),
                    justification="Bench end-to-end apply.",
                    requested_by=requesters[i % namespaces_used],
                    submit_key=f"{batch}-{i}",
                )
                for i in range(count)
            ]
        )
        pending = list(
            QuotaRequest.objects.filter(cluster=cluster, submit_key__startswith=batch)
            .select_related("team", "cluster", "namespace")
            .order_by("pk")
        )
        queue = f"bench-quotas-{uuid.uuid4().hex[:8]}"
        worker = _Worker(queue)
        sender = _SendTo(queue)
        # The requesters' "approved" e-mails go to memory, not 500 of them to the console.
        quiet_mail = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
        )
        try:
            started = time.perf_counter()
            with quiet_mail:
                for req in pending:
                    services.approve_request(req, actor=lead)
            approved_in = time.perf_counter() - started
            ids = [req.pk for req in pending]
            deadline = time.monotonic() + 180
            while True:
                done = QuotaRequest.objects.filter(pk__in=ids, status=QuotaStatus.ACTIVE).count()
                failed = QuotaRequest.objects.filter(pk__in=ids, status=QuotaStatus.FAILED)
                if failed.exists():
                    raise AssertionError(
                        f"{failed.count()} grants failed to apply: {failed[0].failure_message}"
                    )
                if done == count:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"only {done} of {count} active after 180 s")
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            sender.restore()
            worker.stop()
        expected: dict[str, int] = {}
        for req in pending:
            expected[req.namespace.name] = expected.get(req.namespace.name, 0) + req.gpus
        stored = {
            name: int(
                (sandbox.state.get("ResourceQuota", name, "tarmac-gpu-quota") or {})["spec"][
                    "hard"
                ]["requests.nvidia.com/gpu"]
            )
            for name in expected
        }
        if stored != expected:
            raise AssertionError(f"the sandbox's quotas differ from the grants: {stored}")
        Cluster.objects.filter(pk=cluster.pk).update(is_active=False)
    worker.log_path.unlink(missing_ok=True)  # kept only when the run failed
    print(
        f"   {count} approvals in {approved_in:.1f} s; all active after {elapsed:.1f} s "
        f"({count / elapsed:.1f}/s) through {settings.DATABASES['default']['ENGINE']}"
    )
    ctx.emit("quotas.apply_e2e", "seconds", elapsed, "s", scale)
    ctx.emit("quotas.apply_e2e", "seconds_approving", approved_in, "s", scale)
    ctx.emit("quotas.apply_e2e", "throughput_per_s", count / elapsed, "grants/s", scale)


SCENARIOS = [
    Scenario("quotas.queue", run_queue, "approval queue at 10,000 requests across 200 teams"),
    Scenario(
        "quotas.apply_e2e",
        run_apply,
        "500 approvals applied through Redis and one worker to the sandbox",
    ),
]
