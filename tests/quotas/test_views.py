"""Quota pages: the form and its errors, the queue, inline decisions, live status, the
team page, query counts, and who may see and do what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import QuotaRequest
from tests.factories import TeamFactory, UserFactory
from tests.quotas.factories import A100, H100, make_cluster, make_request

pytestmark = pytest.mark.django_db

S = QuotaStatus
HTMX = {"HTTP_HX_REQUEST": "true"}


def form_data(where: Any, /, **overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data = {
        "team": where.team.pk,
        "cluster": where.cluster.pk,
        "namespace": where.pk,
        "gpu_product": H100,
        "gpus": "4",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=6)).isoformat(),
        "justification": "Pretraining.",
        "submit_key": "key-1",
    }
    data.update(overrides)
    return data


def errors_of(response: Any) -> dict[str, list[str]]:
    form = response.context["form"]
    return {name: [str(e) for e in errs] for name, errs in form.errors.items()}


# --- the request form ----------------------------------------------------------------


def test_the_form_offers_only_the_members_teams_and_their_namespaces(
    client: Any, member: Any, vision_ns: Any, nlp_ns: Any
) -> None:
    client.force_login(member)
    page = client.get("/quotas/new/")
    assert page.status_code == 200
    form = page.context["form"]
    assert [t.slug for t in form.fields["team"].queryset] == ["vision"]
    assert list(form.fields["namespace"].queryset) == [vision_ns]
    assert form.initial["submit_key"]
    assert "Choose a team, a cluster and a GPU product" in page.content.decode()


def test_a_valid_request_is_submitted_and_shown(client: Any, member: Any, vision_ns: Any) -> None:
    client.force_login(member)
    response = client.post("/quotas/new/", form_data(vision_ns))
    req = QuotaRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/quotas/{req.pk}/"
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "Awaiting approval" in body and "A platform lead other than you decides" in body


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"gpus": "0"}, "gpus", "Ask for at least 1 GPU."),
        ({"gpus": "-2"}, "gpus", "Ask for at least 1 GPU."),
        ({"gpus": "2.5"}, "gpus", "Give the number of GPUs as a whole number."),
        ({"gpus": "lots"}, "gpus", "Give the number of GPUs as a whole number."),
        ({"gpus": "100000"}, "gpus", "At most 512 GPUs per request."),
        ({"gpus": "17"}, "gpus", "Not enough NVIDIA-H100-80GB-HBM3 GPUs on train-eu"),
        ({"gpu_product": "NVIDIA-B200"}, "gpu_product", "is not a GPU product of any cluster"),
        ({"gpu_product": "NVIDIA-L4"}, "gpu_product", "train-eu has no GPU product"),
        ({"ends_on": "2000-01-01"}, "ends_on", "The end date is before the start date."),
        ({"starts_on": "2000-01-01"}, "starts_on", "The start date is in the past."),
        ({"starts_on": "not a date"}, "starts_on", "Give a start date as YYYY-MM-DD."),
        ({"justification": ""}, "justification", "This field is required."),
        ({"namespace": "999999"}, "namespace", "Choose a namespace your team owns."),
        ({"cluster": "999999"}, "cluster", "That cluster does not exist or has been retired."),
    ],
)
def test_bad_input_gets_a_form_error_on_its_field_and_nothing_is_written(
    client: Any,
    member: Any,
    vision_ns: Any,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    make_cluster("serve-us", capacity={"NVIDIA-L4": 4})
    client.force_login(member)
    response = client.post("/quotas/new/", form_data(vision_ns, **overrides))
    assert response.status_code == 200
    errors = errors_of(response)
    assert any(message in m for m in errors.get(field, [])), errors
    assert QuotaRequest.objects.count() == 0
    assert not AuditEvent.objects.filter(verb__startswith="quota.").exists()


def test_another_teams_namespace_is_not_accepted(
    client: Any, member: Any, vision_ns: Any, nlp_ns: Any
) -> None:
    client.force_login(member)
    response = client.post("/quotas/new/", form_data(vision_ns, namespace=nlp_ns.pk))
    assert errors_of(response) == {"namespace": ["Choose a namespace your team owns."]}
    assert QuotaRequest.objects.count() == 0


def test_an_operator_picking_a_namespace_of_another_team_gets_the_services_error(
    client: Any, op_user: Any, vision_ns: Any, nlp_ns: Any
) -> None:
    client.force_login(op_user)
    response = client.post("/quotas/new/", form_data(vision_ns, namespace=nlp_ns.pk))
    assert "belongs to another team" in errors_of(response)["namespace"][0]
    assert QuotaRequest.objects.count() == 0


def test_a_request_for_a_retired_cluster_is_refused(
    client: Any, member: Any, vision_ns: Any
) -> None:
    Cluster.objects.filter(pk=vision_ns.cluster_id).update(is_active=False)
    client.force_login(member)
    response = client.post("/quotas/new/", form_data(vision_ns))
    assert errors_of(response)["cluster"] == ["That cluster does not exist or has been retired."]
    assert QuotaRequest.objects.count() == 0


def test_a_double_submit_is_refused_and_written_once(
    client: Any, member: Any, vision_ns: Any
) -> None:
    client.force_login(member)
    client.post("/quotas/new/", form_data(vision_ns))
    again = client.post("/quotas/new/", form_data(vision_ns))
    assert again.status_code == 200
    first = QuotaRequest.objects.get()
    assert errors_of(again) == {"__all__": [f"This request was already submitted as #{first.pk}."]}


def test_the_panel_shows_the_teams_position_and_the_free_gpus(
    client: Any, member: Any, lead: Any, team: Any, vision_ns: Any, nlp_ns: Any, outsider: Any
) -> None:
    make_request(vision_ns, member, status=S.ACTIVE, gpus=4)
    make_request(vision_ns, member, status=S.SUBMITTED, gpus=2)
    make_request(nlp_ns, outsider, status=S.APPROVED, gpus=5, start_in=3)
    client.force_login(member)
    panel = client.get(
        "/quotas/new/context/",
        {"team": team.pk, "cluster": vision_ns.cluster_id, "gpu_product": H100},
        **HTMX,
    )
    position, capacity = panel.context["position"], panel.context["capacity"]
    assert (position.granted, position.pending, position.in_use) == (4, 2, 0)
    assert (capacity.allocatable, capacity.reserved, capacity.free) == (16, 9, 7)
    body = panel.content.decode()
    assert "Free to grant</dt><dd><strong>7</strong>" in body
    assert "team-vision" in body


def test_the_panel_never_shows_another_teams_position(
    client: Any, member: Any, other_team: Any, nlp_ns: Any
) -> None:
    client.force_login(member)
    panel = client.get(
        "/quotas/new/context/",
        {"team": other_team.pk, "cluster": nlp_ns.cluster_id, "gpu_product": H100},
    )
    assert panel.context["panel_team"] is None and "position" not in panel.context


# --- the queue -----------------------------------------------------------------------


@pytest.fixture
def queue(member: Any, outsider: Any, vision_ns: Any, nlp_ns: Any) -> dict[str, Any]:
    old = make_request(vision_ns, member, gpus=2)
    QuotaRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    return {
        "old": old,
        "nlp": make_request(nlp_ns, outsider, gpus=6, product=A100),
        "big": make_request(vision_ns, member, gpus=9),
        "active": make_request(vision_ns, member, status=S.ACTIVE, gpus=1),
    }


def pks(response: Any) -> list[int]:
    return [r.pk for r in response.context["rows"]]


def test_a_lead_sees_submitted_requests_waiting_longest_first(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    client.force_login(lead)
    page = client.get("/quotas/")
    assert pks(page) == [queue["old"].pk, queue["nlp"].pk, queue["big"].pk]
    body = page.content.decode()
    assert "GPU quota approval queue" in body and "Decide #" in body
    assert "15 free" in body  # H100: 16 allocatable, 1 active
    assert "8 free" in body  # A100: 8 allocatable, none granted


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?team=nlp", ["nlp"]),
        ("?cluster=train-eu&product=NVIDIA-A100-SXM4-80GB", ["nlp"]),
        ("?age=7", ["old"]),
        ("?sort=-gpus", ["big", "nlp", "old"]),
        ("?sort=newest", ["big", "nlp", "old"]),
        ("?sort=team", ["nlp", "old", "big"]),
        ("?status=active", ["active"]),
        ("?status=any&sort=-gpus", ["big", "nlp", "old", "active"]),
    ],
)
def test_the_queue_filters_and_sorts(
    client: Any, lead: Any, queue: dict[str, Any], query: str, expected: list[str]
) -> None:
    client.force_login(lead)
    page = client.get(f"/quotas/{query}", **HTMX, HTTP_HX_TARGET="request-table")
    assert [pk for pk in pks(page)] == [queue[name].pk for name in expected]
    assert page.templates[0].name == "quotas/htmx/request_table.html"


def test_a_bad_filter_says_so_and_matches_nothing(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    client.force_login(lead)
    page = client.get("/quotas/?status=pending&sort=price")
    assert pks(page) == []
    body = page.content.decode()
    assert "Unknown status" in body and "Unknown sort order" in body


def test_the_queue_paginates(client: Any, lead: Any, member: Any, vision_ns: Any) -> None:
    for i in range(30):
        make_request(vision_ns, member, gpus=1 + i % 3, start_in=i)
    client.force_login(lead)
    first, second = client.get("/quotas/"), client.get("/quotas/?page=2")
    assert len(pks(first)) == 25 and len(pks(second)) == 5
    assert not set(pks(first)) & set(pks(second))
    assert "Page 1 of 2" in first.content.decode()


def test_a_member_sees_only_their_teams_requests(
    client: Any, member: Any, queue: dict[str, Any]
) -> None:
    client.force_login(member)
    page = client.get("/quotas/")
    assert set(pks(page)) == {queue["old"].pk, queue["big"].pk, queue["active"].pk}
    assert "Decide #" not in page.content.decode()


def _fill(namespace: Any, requester: Any, n: int) -> None:
    QuotaRequest.objects.bulk_create(
        [
            QuotaRequest(
                team=namespace.team,
                cluster=namespace.cluster,
                namespace=namespace,
                gpu_product=H100 if i % 2 else A100,
                gpus=1 + i % 4,
                starts_on=timezone.localdate(),
                ends_on=timezone.localdate() + timedelta(days=3),
                justification="bulk",
                requested_by=requester,
                status=[S.SUBMITTED, S.ACTIVE, S.APPLYING, S.FAILED][i % 4],
                granted_gpus=None if i % 4 == 0 else 1,
            )
            for i in range(n)
        ]
    )


@pytest.mark.parametrize("who", ["lead", "member"])
def test_the_queue_makes_the_same_number_of_queries_for_3_or_60_requests(
    client: Any, request: Any, who: str, member: Any, vision_ns: Any
) -> None:
    user = request.getfixturevalue(who)
    client.force_login(user)
    counts = []
    for n in (3, 57):
        _fill(vision_ns, member, n)
        client.get("/quotas/?status=any")  # warm the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/quotas/?status=any").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_the_team_page_makes_the_same_number_of_queries_as_grants_grow(
    client: Any, member: Any, team: Any, vision_ns: Any
) -> None:
    client.force_login(member)
    counts = []
    for n in (2, 40):
        _fill(vision_ns, member, n)
        client.get(f"/quotas/teams/{team.slug}/")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/quotas/teams/{team.slug}/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- inline decisions ----------------------------------------------------------------


def test_a_lead_approves_inline_and_the_row_shows_applying(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    req = queue["nlp"]
    client.force_login(lead)
    row = client.post(
        f"/quotas/{req.pk}/approve/",
        {"granted_gpus": "6", "reason": ""},
        **HTMX,
        HTTP_HX_TARGET=f"request-row-{req.pk}",
    )
    body = row.content.decode()
    assert row.status_code == 200
    assert f'id="request-row-{req.pk}"' in body and "Applying" in body
    assert 'hx-trigger="every 2s"' in body  # the row polls while applying
    assert "Approved #" in body
    assert QuotaRequest.objects.get(pk=req.pk).status == S.APPLYING


def test_a_reject_without_a_reason_is_refused_inline(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    req = queue["nlp"]
    client.force_login(lead)
    row = client.post(
        f"/quotas/{req.pk}/reject/", {"reason": ""}, **HTMX, HTTP_HX_TARGET=f"request-row-{req.pk}"
    )
    assert "Give a reason; the requester will read it." in row.content.decode()
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED
    row = client.post(
        f"/quotas/{req.pk}/reject/",
        {"reason": "Use A100s on serve-us."},
        **HTMX,
        HTTP_HX_TARGET=f"request-row-{req.pk}",
    )
    assert "Rejected" in row.content.decode()
    assert QuotaRequest.objects.get(pk=req.pk).decision_reason == "Use A100s on serve-us."


def test_a_different_count_without_a_reason_is_refused_inline(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    req = queue["big"]
    client.force_login(lead)
    row = client.post(
        f"/quotas/{req.pk}/approve/",
        {"granted_gpus": "4"},
        **HTMX,
        HTTP_HX_TARGET=f"request-row-{req.pk}",
    )
    assert "Say why you grant 4 GPUs instead of the 9 asked for." in row.content.decode()
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_approval_over_capacity_is_refused_inline(
    client: Any, lead: Any, member: Any, vision_ns: Any, queue: dict[str, Any]
) -> None:
    make_request(vision_ns, member, status=S.ACTIVE, gpus=10)
    req = queue["big"]
    client.force_login(lead)
    row = client.post(
        f"/quotas/{req.pk}/approve/", {}, **HTMX, HTTP_HX_TARGET=f"request-row-{req.pk}"
    )
    assert "Not enough NVIDIA-H100-80GB-HBM3 GPUs on train-eu" in row.content.decode()
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_the_detail_page_approves_and_then_polls_its_status(
    client: Any, lead: Any, queue: dict[str, Any]
) -> None:
    req = queue["old"]
    client.force_login(lead)
    panel = client.post(f"/quotas/{req.pk}/approve/", {}, **HTMX, HTTP_HX_TARGET="request-status")
    body = panel.content.decode()
    assert 'id="request-status"' in body and 'hx-trigger="every 1s"' in body
    assert "Apply operation" in body and "attempt 0 of" in body
    QuotaRequest.objects.filter(pk=req.pk).update(status=S.ACTIVE)
    status = client.get(f"/quotas/{req.pk}/status/", **HTMX).content.decode()
    assert "Active" in status and "every 1s" not in status


def test_a_failed_grant_shows_the_clusters_message_and_a_retry_button_for_leads(
    client: Any, lead: Any, member: Any, vision_ns: Any
) -> None:
    req = make_request(
        vision_ns, member, status=S.FAILED, failure_message='Forbidden 403: cannot patch "x"'
    )
    client.force_login(member)
    page = client.get(f"/quotas/{req.pk}/").content.decode()
    assert "Forbidden 403: cannot patch &quot;x&quot;" in page and ">Retry<" not in page
    client.force_login(lead)
    page = client.get(f"/quotas/{req.pk}/").content.decode()
    assert ">Retry</button>" in page
    response = client.post(f"/quotas/{req.pk}/retry/", {"reason": "RBAC fixed"})
    assert response.status_code == 302
    assert QuotaRequest.objects.get(pk=req.pk).status == S.APPLYING


def test_the_requester_cancels_from_the_request_page(
    client: Any, member: Any, queue: dict[str, Any]
) -> None:
    req = queue["old"]
    client.force_login(member)
    response = client.post(f"/quotas/{req.pk}/cancel/", {"reason": "not needed"}, follow=True)
    assert "Cancelled #" in response.content.decode()
    assert QuotaRequest.objects.get(pk=req.pk).status == S.CANCELLED


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/quotas/?status=submitted", "/quotas/?status=submitted"),
        ("abc", None),
        ("https://evil.example/", None),
    ],
)
def test_after_an_action_only_a_path_on_this_site_is_followed(
    client: Any, member: Any, queue: dict[str, Any], next_url: str, lands_on: str | None
) -> None:
    req = queue["old"]
    client.force_login(member)
    response = client.post(f"/quotas/{req.pk}/cancel/", {"reason": "not needed", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == (lands_on or f"/quotas/{req.pk}/")


# --- permission matrix ---------------------------------------------------------------


def test_an_outsider_cannot_see_or_act_on_another_teams_request(
    client: Any, outsider: Any, queue: dict[str, Any]
) -> None:
    req = queue["old"]
    client.force_login(outsider)
    assert client.get(f"/quotas/{req.pk}/").status_code == 404
    assert client.get(f"/quotas/{req.pk}/status/", **HTMX).status_code == 404
    for action in ("approve", "reject", "cancel", "revoke", "retry"):
        assert client.post(f"/quotas/{req.pk}/{action}/", {"reason": "x"}).status_code == 404
    assert req.pk not in pks(client.get("/quotas/?status=any"))
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [
        ("member", "approve", False),
        ("member", "reject", False),
        ("member", "revoke", False),
        ("member", "retry", False),
        ("member", "cancel", True),
        ("teammate", "cancel", False),
        ("maintainer", "cancel", True),
        ("maintainer", "approve", False),
        ("lead", "approve", True),
        ("lead", "reject", True),
        ("lead", "cancel", False),
        ("op_user", "approve", False),
        ("op_user", "reject", False),
        ("op_user", "cancel", True),
    ],
)
def test_who_may_decide_a_submitted_request(
    client: Any,
    request: Any,
    who: str,
    action: str,
    allowed: bool,
    member: Any,
    vision_ns: Any,
) -> None:
    req = make_request(vision_ns, member)
    client.force_login(request.getfixturevalue(who))
    response = client.post(f"/quotas/{req.pk}/{action}/", {"reason": "because"})
    status = QuotaRequest.objects.get(pk=req.pk).status
    if allowed:
        assert response.status_code == 302 and status != S.SUBMITTED
    else:
        assert response.status_code == 403 and status == S.SUBMITTED


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("member", False), ("maintainer", False), ("lead", True), ("op_user", True)],
)
def test_who_may_revoke_and_retry_a_grant(
    client: Any, request: Any, who: str, allowed: bool, member: Any, vision_ns: Any
) -> None:
    active = make_request(vision_ns, member, status=S.ACTIVE, gpus=1)
    failed = make_request(vision_ns, member, status=S.FAILED, gpus=1)
    client.force_login(request.getfixturevalue(who))
    revoke = client.post(f"/quotas/{active.pk}/revoke/", {"reason": "needed elsewhere"})
    retry = client.post(f"/quotas/{failed.pk}/retry/", {})
    expected = 302 if allowed else 403
    assert (revoke.status_code, retry.status_code) == (expected, expected)
    assert (QuotaRequest.objects.get(pk=active.pk).status == S.REVOKED) is allowed
    assert (QuotaRequest.objects.get(pk=failed.pk).status == S.APPLYING) is allowed


def test_a_lead_who_asked_cannot_approve_their_own_request(
    client: Any, lead: Any, team: Any, vision_ns: Any
) -> None:
    from tests.factories import MembershipFactory

    MembershipFactory(user=lead, team=team)
    req = make_request(vision_ns, lead)
    client.force_login(lead)
    page = client.get("/quotas/").content.decode()
    assert "Your own: another lead decides." in page and f"Decide #{req.pk}" not in page
    row = client.post(
        f"/quotas/{req.pk}/approve/", {}, **HTMX, HTTP_HX_TARGET=f"request-row-{req.pk}"
    )
    assert "You cannot approve your own request" in row.content.decode()
    assert client.post(f"/quotas/{req.pk}/approve/", {}).status_code == 403
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_anonymous_visitors_are_sent_to_sign_in(client: Any, queue: dict[str, Any]) -> None:
    for url in ("/quotas/", "/quotas/new/", f"/quotas/{queue['old'].pk}/", "/quotas/teams/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- the team quota page -------------------------------------------------------------


def test_the_team_page_shows_granted_pending_and_the_history(
    client: Any, member: Any, team: Any, vision_ns: Any
) -> None:
    grant = make_request(vision_ns, member, status=S.ACTIVE, gpus=4)
    QuotaRequest.objects.filter(pk=grant.pk).update(activated_at=timezone.now() - timedelta(days=2))
    make_request(vision_ns, member, status=S.SUBMITTED, gpus=2, product=A100)
    client.force_login(member)
    page = client.get(f"/quotas/teams/{team.slug}/")
    rows = {(r.cluster.name, r.product): r for r in page.context["rows"]}
    assert (rows[("train-eu", H100)].granted, rows[("train-eu", H100)].allocatable) == (4, 16)
    assert rows[("train-eu", A100)].pending == 2
    history = page.context["history"]
    assert len(history) == 30 and history[-1].granted == 4 and history[-3].granted == 4
    assert history[-4].granted == 0
    body = page.content.decode()
    assert 'id="quota-history"' in body and "plotly.min.js" in body


def test_the_team_page_is_for_members_leads_and_operators(
    client: Any, team: Any, outsider: Any, lead: Any, op_user: Any, member: Any
) -> None:
    url = f"/quotas/teams/{team.slug}/"
    for user, status in ((outsider, 404), (member, 200), (lead, 200), (op_user, 200)):
        client.force_login(user)
        assert client.get(url).status_code == status


def test_the_team_list_shows_the_viewers_teams(
    client: Any, member: Any, team: Any, other_team: Any, lead: Any
) -> None:
    client.force_login(member)
    assert [t.slug for t in client.get("/quotas/teams/").context["page"]] == ["vision"]
    client.force_login(lead)
    slugs = [t.slug for t in client.get("/quotas/teams/").context["page"]]
    assert {"vision", "nlp"} <= set(slugs)


def test_the_home_page_counts_requests_awaiting_a_lead_and_the_users_open_ones(
    client: Any, lead: Any, member: Any, queue: dict[str, Any]
) -> None:
    client.force_login(lead)
    awaiting = client.get("/").context["awaiting"]
    assert ("GPU quota requests", "/quotas/?status=submitted", 3) in awaiting
    client.force_login(member)
    mine = client.get("/").context["open_requests"]
    assert ("GPU quota requests", "/quotas/?mine=1&status=open", 2) in mine


def test_a_user_without_a_team_sees_an_empty_queue(client: Any, db: Any) -> None:
    loner = UserFactory(username="loner")
    TeamFactory(slug="lonely")
    client.force_login(loner)
    page = client.get("/quotas/")
    assert page.status_code == 200 and "No quota requests match." in page.content.decode()


def test_the_status_panel_answers_204_while_nothing_changed(
    client: Any, member: Any, lead: Any, vision_ns: Any
) -> None:
    """The member's page polls while the request waits; nothing is swapped (so nothing
    typed is lost) until a lead decides, then the new panel arrives."""
    req = make_request(vision_ns, member)
    client.force_login(member)
    page = client.get(f"/quotas/{req.pk}/").content.decode()
    assert 'hx-trigger="every 3s"' in page
    seen = "submitted:-:0"
    assert "?seen=submitted%3A-%3A0" in page
    unchanged = client.get(f"/quotas/{req.pk}/status/?seen={seen}", **HTMX)
    assert unchanged.status_code == 204 and unchanged.content == b""
    from apps.quotas import services

    services.approve_request(req, actor=lead)
    changed = client.get(f"/quotas/{req.pk}/status/?seen={seen}", **HTMX)
    assert changed.status_code == 200
    assert (
        "Applying" in changed.content.decode()
        and 'hx-trigger="every 1s"' in changed.content.decode()
    )
