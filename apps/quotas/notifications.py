"""E-mails about quota requests, sent after the transaction that caused them commits.

Leads hear of every request that waits for them; the requester hears of each decision
(approved, auto-approved, rejected, revoked) and of an apply that failed. A mail server
outage is logged and never undoes the change (the console backend is the default).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

if TYPE_CHECKING:
    from apps.quotas.models import QuotaRequest

log = logging.getLogger(__name__)


def _link(req: QuotaRequest) -> str:
    base = getattr(settings, "TARMAC_BASE_URL", "").rstrip("/")
    return f"{base}{reverse('quotas:request-detail', args=[req.pk])}"


def _summary(req: QuotaRequest) -> str:
    return (
        f"{req.gpus} x {req.gpu_product} in {req.cluster.name}/{req.namespace.name} "
        f"for team {req.team.slug}, {req.starts_on:%Y-%m-%d} to {req.ends_on:%Y-%m-%d}"
    )


def _send_after_commit(subject: str, body: str, recipients: list[str]) -> None:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:  # the change stands; only the e-mail is lost
            log.exception("could not send %r to %s", subject, recipients)

    transaction.on_commit(send)


def new_request(req: QuotaRequest) -> None:
    """Tell every platform lead (except the requester) that a request waits for them."""
    leads = (
        get_user_model()
        .objects.filter(groups__name=settings.PLATFORM_LEADS_GROUP, is_active=True)
        .exclude(pk=req.requested_by_id)
        .values_list("email", flat=True)
    )
    requester = req.requested_by.get_username()
    _send_after_commit(
        f"[Tarmac] GPU quota request #{req.pk} from {requester} awaits approval",
        f"{requester} asks for {_summary(req)}.\n\nWhy: {req.justification}\n\n"
        f"Approve or reject it: {_link(req)}\n",
        list(leads),
    )


def decided(req: QuotaRequest, decision: str) -> None:
    """Tell the requester what was decided, and by whom and why."""
    who = req.decided_by.get_username() if req.decided_by_id and req.decided_by else "Tarmac"
    if decision == "revoked":
        who = req.ended_by.get_username() if req.ended_by_id and req.ended_by else "Tarmac"
    reason = req.end_reason if decision == "revoked" else req.decision_reason
    granted = ""
    if decision in ("approved", "auto-approved") and req.count_differs:
        granted = f"\nGranted: {req.granted_gpus} GPUs (you asked for {req.gpus})."
    _send_after_commit(
        f"[Tarmac] GPU quota request #{req.pk} {decision}",
        f"Your request for {_summary(req)} was {decision} by {who}.{granted}\n"
        + (f"Reason: {reason}\n" if reason else "")
        + f"\n{_link(req)}\n",
        [req.requested_by.email],
    )


def apply_failed(req: QuotaRequest) -> None:
    """Tell the requester that the cluster did not take the quota, with its message."""
    _send_after_commit(
        f"[Tarmac] GPU quota request #{req.pk} could not be applied",
        f"Your approved request for {_summary(req)} failed to apply on the cluster:\n\n"
        f"{req.failure_message}\n\nA platform lead or operator can retry it: {_link(req)}\n",
        [req.requested_by.email],
    )
