"""The quota API mirrors the portal: same rules, same messages, as JSON; team tokens
submit but never decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import create_token
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import QuotaRequest
from tests.factories import MembershipFactory
from tests.quotas.factories import H100, make_cluster, make_request

pytestmark = pytest.mark.django_db

S = QuotaStatus
URL = "/api/v1/quota-requests/"


def token_client(user: Any, team: Any = None) -> APIClient:
    issued = create_token(actor=user, name="t", team=team)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    return client


def body(**overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data: dict[str, Any] = {
        "team": "vision",
        "cluster": "train-eu",
        "namespace": "team-vision",
        "gpu_product": H100,
        "gpus": 4,
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=6)).isoformat(),
        "justification": "Pretraining.",
    }
    data.update(overrides)
    return data


def test_a_member_submits_with_a_personal_token(member: Any, vision_ns: Any) -> None:
    response = token_client(member).post(URL, body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "submitted" and data["requested_by"] == "mia"
    assert (data["team"], data["cluster"], data["namespace"]) == (
        "vision",
        "train-eu",
        "team-vision",
    )
    assert data["operation"] is None and data["drifted"] is False


def test_ci_submits_with_a_team_token(maintainer: Any, team: Any, vision_ns: Any) -> None:
    response = token_client(maintainer, team).post(URL, body(), format="json")
    assert response.status_code == 201
    assert response.json()["requested_by"] == "svc-vision"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"gpus": 0}, "gpus", "Ask for at least 1 GPU."),
        ({"gpus": -1}, "gpus", "Ask for at least 1 GPU."),
        ({"gpus": 2.5}, "gpus", "GPUs come whole: give a whole number."),
        ({"gpus": "four"}, "gpus", "Give the number of GPUs as a whole number."),
        ({"gpus": True}, "gpus", "Give the number of GPUs as a whole number."),
        ({"gpus": [4]}, "gpus", "Give the number of GPUs as a whole number."),
        ({"gpus": 10**9}, "gpus", "At most 512 GPUs per request"),
        ({"gpu_product": "NVIDIA-B200"}, "gpu_product", "train-eu has no GPU product"),
        ({"namespace": "team-nlp"}, "namespace", "belongs to another team"),
        ({"namespace": "nowhere"}, "namespace", "train-eu has no namespace 'nowhere'."),
        ({"team": "nobody"}, "team", "No team 'nobody'."),
        ({"cluster": "gone"}, "cluster", "That cluster does not exist or has been retired."),
        ({"ends_on": "2001-01-01"}, "ends_on", "The end date is before the start date."),
        ({"starts_on": "yesterday"}, "starts_on", "Date has wrong format"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_nothing_is_written(
    member: Any, vision_ns: Any, nlp_ns: Any, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = token_client(member).post(URL, body(**overrides), format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert any(message in m for m in errors[field]), errors
    assert QuotaRequest.objects.count() == 0


def test_a_retired_cluster_is_refused(member: Any, vision_ns: Any) -> None:
    vision_ns.cluster.is_active = False
    vision_ns.cluster.save()
    response = token_client(member).post(URL, body(), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "cluster": ["That cluster does not exist or has been retired."]
    }


def test_a_team_the_user_is_not_in_is_a_403(outsider: Any, vision_ns: Any) -> None:
    response = token_client(outsider).post(URL, body(), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "notallowed"
    assert QuotaRequest.objects.count() == 0


def test_the_same_idempotency_key_twice_creates_one_request(member: Any, vision_ns: Any) -> None:
    client = token_client(member)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="ci-run-77")
    again = client.post(URL, body(gpus=2), format="json", HTTP_IDEMPOTENCY_KEY="ci-run-77")
    assert first.status_code == 201 and again.status_code == 409
    assert again.json() == {
        "detail": f"This request was already submitted as #{first.json()['id']}.",
        "code": "conflict",
    }
    assert QuotaRequest.objects.count() == 1


def test_an_identical_open_request_is_a_409(member: Any, vision_ns: Any) -> None:
    client = token_client(member)
    assert client.post(URL, body(), format="json").status_code == 201
    assert client.post(URL, body(), format="json").status_code == 409


def test_members_list_and_get_only_their_teams_requests(
    member: Any, outsider: Any, vision_ns: Any, nlp_ns: Any
) -> None:
    mine = make_request(vision_ns, member)
    theirs = make_request(nlp_ns, outsider)
    client = token_client(member)
    listed = client.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [mine.pk]
    assert client.get(f"{URL}{mine.pk}/").status_code == 200
    missing = client.get(f"{URL}{theirs.pk}/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_list_filters_by_status_and_says_when_a_status_is_unknown(
    member: Any, vision_ns: Any
) -> None:
    make_request(vision_ns, member)
    active = make_request(vision_ns, member, status=S.ACTIVE, gpus=1)
    client = token_client(member)
    assert [r["id"] for r in client.get(f"{URL}?status=active").json()["results"]] == [active.pk]
    bad = client.get(f"{URL}?status=pending")
    assert bad.status_code == 400 and bad.json()["errors"] == {
        "status": ["Unknown status 'pending'."]
    }


def test_the_list_makes_the_same_number_of_queries_for_2_or_40_requests(
    lead: Any, member: Any, vision_ns: Any
) -> None:
    client = token_client(lead)
    client.get(URL)  # the token's last-used time is written once a minute
    counts = []
    for n in (2, 38):
        for i in range(n):
            make_request(vision_ns, member, status=[S.SUBMITTED, S.ACTIVE][i % 2], gpus=1)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- decisions -----------------------------------------------------------------------


def test_a_lead_approves_with_a_personal_token(lead: Any, member: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, gpus=8)
    response = token_client(lead).post(
        f"{URL}{req.pk}/approve/", {"granted_gpus": 6, "reason": "6 for now"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["granted_gpus"], data["decided_by"]) == ("applying", 6, "lena")
    assert data["operation"]["status"] == "pending" and data["operation"]["attempts"] == 0


def test_a_leads_team_token_cannot_approve(
    lead: Any, team: Any, member: Any, vision_ns: Any
) -> None:
    MembershipFactory(user=lead, team=team, role="maintainer")
    req = make_request(vision_ns, member)
    response = token_client(lead, team).post(f"{URL}{req.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "Team tokens" in response.json()["detail"]
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED
    reject = token_client(lead, team).post(f"{URL}{req.pk}/reject/", {"reason": "x"}, format="json")
    assert reject.status_code == 403


@pytest.mark.parametrize("who", ["member", "maintainer", "op_user"])
def test_non_leads_cannot_approve_or_reject(
    who: str, request: Any, member: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member)
    client = token_client(request.getfixturevalue(who))
    assert client.post(f"{URL}{req.pk}/approve/", {}, format="json").status_code == 403
    assert client.post(f"{URL}{req.pk}/reject/", {"reason": "no"}, format="json").status_code == 403
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_a_lead_cannot_approve_their_own_request_by_api(lead: Any, team: Any, cluster: Any) -> None:
    from tests.quotas.factories import make_namespace

    MembershipFactory(user=lead, team=team)
    req = make_request(make_namespace(cluster, team), lead)
    response = token_client(lead).post(f"{URL}{req.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "You cannot approve your own request; another lead must."


def test_decision_errors_are_json_with_the_field(lead: Any, member: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, gpus=8)
    client = token_client(lead)
    different = client.post(f"{URL}{req.pk}/approve/", {"granted_gpus": 4}, format="json")
    assert different.status_code == 400
    assert different.json()["errors"] == {
        "reason": ["Say why you grant 4 GPUs instead of the 8 asked for."]
    }
    zero = client.post(f"{URL}{req.pk}/approve/", {"granted_gpus": 0, "reason": "x"}, format="json")
    assert zero.json()["errors"] == {"granted_gpus": ["Ask for at least 1 GPU."]}
    no_reason = client.post(f"{URL}{req.pk}/reject/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    too_big = client.post(
        f"{URL}{req.pk}/approve/", {"granted_gpus": 40, "reason": "x"}, format="json"
    )
    assert too_big.status_code == 400 and "Not enough" in too_big.json()["errors"]["gpus"][0]
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED
    client.post(f"{URL}{req.pk}/reject/", {"reason": "no"}, format="json")
    twice = client.post(f"{URL}{req.pk}/reject/", {"reason": "again"}, format="json")
    assert twice.status_code == 400
    assert twice.json()["detail"] == "This request is rejected; it cannot become rejected."


def test_the_requester_cancels_and_others_may_not(
    member: Any, teammate: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member)
    refused = token_client(teammate).post(f"{URL}{req.pk}/cancel/", {}, format="json")
    assert refused.status_code == 403
    done = token_client(member).post(f"{URL}{req.pk}/cancel/", {"reason": "dup"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_revoke_and_retry_are_for_leads_and_operators_personal_tokens(
    lead: Any, op_user: Any, member: Any, vision_ns: Any
) -> None:
    active = make_request(vision_ns, member, status=S.ACTIVE, gpus=1)
    failed = make_request(vision_ns, member, status=S.FAILED, gpus=1)
    member_client = token_client(member)
    assert (
        member_client.post(f"{URL}{active.pk}/revoke/", {"reason": "x"}, format="json").status_code
        == 403
    )
    assert member_client.post(f"{URL}{failed.pk}/retry/", {}, format="json").status_code == 403
    revoked = token_client(lead).post(
        f"{URL}{active.pk}/revoke/", {"reason": "moved"}, format="json"
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    retried = token_client(op_user).post(f"{URL}{failed.pk}/retry/", {}, format="json")
    assert retried.status_code == 202 and retried.json()["status"] == "applying"


def test_an_unknown_request_is_a_json_404(lead: Any) -> None:
    response = token_client(lead).post(f"{URL}99999/approve/", {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_requests_on_a_second_cluster_are_listed_by_cluster(
    member: Any, team: Any, vision_ns: Any
) -> None:
    from tests.quotas.factories import make_namespace

    serve = make_cluster("serve-us", capacity={"NVIDIA-L4": 8})
    other = make_request(make_namespace(serve, team), member, product="NVIDIA-L4")
    make_request(vision_ns, member)
    listed = token_client(member).get(f"{URL}?cluster=serve-us").json()["results"]
    assert [r["id"] for r in listed] == [other.pk]
