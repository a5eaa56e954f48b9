"""When a review falls due, the lead professional gets an e-mail that links to the plan and names no child."""

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from services.kit.natsserver import free_port
from services.notifications.models import Reminder
from tests.support.notifications import NotificationsStack
from tests.support.waiting import eventually

SMTP_PORT = free_port()


class Inbox:
    """What a real SMTP server on loopback was handed."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or b""
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": SMTP_PORT, "front_end_url": "https://pathway.example.gov.uk"}


async def _a_review_falls_due(stack: NotificationsStack) -> tuple[str, dict[str, Any]]:
    """An active plan whose lead has an e-mail address and whose review is overdue: the family's id and the plan."""
    council = stack.plans.organisation("org-council")
    family_id = await stack.plans.family(council)
    await stack.plans.submit(council, family_id)
    plan = await stack.plans.active_plan(council, family_id)
    lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": "sam.lead@council.example.gov.uk"}
    plan = await stack.plans.change(
        council, plan, "", {"lead_professional": lead, "next_review_due": "2025-05-01"}, method="PATCH"
    )
    return family_id, plan


async def test_the_lead_professional_is_reminded_by_email_when_a_review_falls_due(
    inbox: Inbox, notifications: NotificationsStack
) -> None:
    family_id, plan = await _a_review_falls_due(notifications)

    async def mailed() -> bool:
        return len(inbox.messages) == 1

    await eventually(mailed)
    (recipients, message) = inbox.messages[0]
    assert recipients == ["sam.lead@council.example.gov.uk"]
    assert message["Subject"] == "A family plan review is due on 1 May 2025"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert f"https://pathway.example.gov.uk/plans/{plan['id']}" in text
    assert text.startswith("Dear Sam Lead,")
    # Nothing about the family: not the child's name, nor the family's id.
    for personal in ("Amara", "Okafor", "2017-05-14", family_id):
        assert personal not in message.as_string()


async def test_a_reminder_waits_for_a_mail_server_that_is_away(notifications: NotificationsStack) -> None:
    await _a_review_falls_due(notifications)
    database = notifications.app.state.database

    async def tried() -> bool:
        async with database.sessionmaker() as session:
            reminder = (await session.execute(select(Reminder))).scalar_one_or_none()
            return reminder is not None and reminder.attempts >= 1

    await eventually(tried)
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:

        async def mailed() -> bool:
            return len(handler.messages) == 1

        await eventually(mailed, within=15)
    finally:
        controller.stop()
