"""Reminders: when a plan's review falls due, its lead professional gets an e-mail.

`plan.review_due` is noted as a `Reminder` in the transaction that takes the
event in, so a crash or a mail server away delays the e-mail and never loses it.
The mailer then reads who leads the plan (at sending time, so a new lead gets
it) and sends over SMTP. The e-mail names no child and no family: it says a
review is due and links to the plan, where the reader signs in and access is
checked. Its Message-ID is the event's, so a copy sent twice after a crash is
one message to a mail client.
"""

import asyncio
import logging
from datetime import date, timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.db import Database
from services.kit.periodic import seconds_until, wait_for_work
from services.kit.problems import ServiceError
from services.kit.tasks import stop_task
from services.notifications import repository
from services.notifications.clients import Lead, PlanClient
from services.notifications.config import NotificationsSettings
from services.notifications.models import Reminder

logger = logging.getLogger(__name__)

REVIEW_DUE = "plan.review_due"
DUE_AT_ONCE = 100
RETRY_SECONDS = (5.0, 30.0, 120.0, 600.0, 3600.0)
GIVE_UP_AFTER_ATTEMPTS = 30  # a day and more of hourly tries
REMINDERS_PENDING = "notifications_reminders_pending"
READ_RETRY_SECONDS = 1.0  # how soon reminders are looked for again after the database failed to answer


def note_review_due(session: AsyncSession, *, event_id: str, plan_id: str, due_on: date) -> None:
    """An e-mail owed to the plan's lead, kept in the transaction that takes the event in; the mailer sends it."""
    session.add(Reminder(event_id=event_id, plan_id=plan_id, due_on=due_on, status="pending", next_attempt_at=now()))
    session.info[REMINDERS_PENDING] = True


def review_due_message(settings: NotificationsSettings, reminder: Reminder, lead: Lead, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = f"A family plan review is due on {reminder.due_on:%-d %B %Y}"
    message["Message-ID"] = f"<{reminder.event_id}@graduated-pathway>"
    link = f"{settings.front_end_url.rstrip('/')}/plans/{reminder.plan_id}"
    message.set_content(
        f"Dear {lead.name},\n\n"
        f"The review of a family plan you lead is due on {reminder.due_on:%-d %B %Y}.\n\n"
        f"Open the plan to prepare for it: {link}\n\n"
        "This e-mail names no one in the family: sign in to see the plan.\n"
    )
    return message


class Mailer:
    def __init__(self, database: Database, settings: NotificationsSettings, plans: PlanClient) -> None:
        self.database = database
        self.settings = settings
        self.plans = plans
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        database.wake_on_commit(REMINDERS_PENDING, self._wake)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="reminder-mailer")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)

    async def run(self) -> None:
        """Send what is due, then sleep until the next reminder or retry falls due or a commit notes a new one."""
        while True:
            self._wake.clear()
            try:
                due = await self._due()
                for reminder in due:
                    await self._send(reminder)
                wait = 0.0 if len(due) == DUE_AT_ONCE else await self._until_next_due()
            except Exception as error:  # noqa: BLE001 (the database away: try again shortly)
                logger.warning("reminders could not be read", extra={"error": type(error).__name__})
                wait = READ_RETRY_SECONDS
            await wait_for_work(self._wake, wait)

    async def _due(self) -> list[Reminder]:
        async with self.database.sessionmaker() as session:
            return await repository.due_reminders(session, now(), limit=DUE_AT_ONCE)

    async def _until_next_due(self) -> float:
        async with self.database.sessionmaker() as session:
            due = await repository.next_reminder_due(session, now())
        return seconds_until(due, self.settings.idle_check_seconds)

    async def _send(self, reminder: Reminder) -> None:
        try:
            participants = await self.plans.participants(reminder.plan_id)
            lead = participants.lead if participants else None
            if lead is None or not lead.email:
                logger.warning("review reminder has no one to go to", extra={"plan": reminder.plan_id})
                await self._record(reminder.event_id, "unsendable")
                return
            await aiosmtplib.send(
                review_due_message(self.settings, reminder, lead, lead.email),
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_username or None,
                password=self.settings.smtp_password or None,
                start_tls=self.settings.smtp_starttls,
                timeout=10,
            )
        except (aiosmtplib.SMTPException, OSError, ServiceError) as error:
            logger.warning(
                "review reminder not sent yet", extra={"plan": reminder.plan_id, "error": type(error).__name__}
            )
            await self._record(reminder.event_id, "failed")
            return
        await self._record(reminder.event_id, "sent")

    async def _record(self, event_id: str, outcome: str) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            reminder = await repository.reminder_for_update(session, event_id)
            assert reminder is not None
            reminder.attempts += 1
            if outcome == "sent":
                reminder.status, reminder.sent_at = "sent", now()
            elif outcome == "unsendable" or reminder.attempts >= GIVE_UP_AFTER_ATTEMPTS:
                reminder.status = "unsendable"
            else:
                wait = RETRY_SECONDS[min(reminder.attempts, len(RETRY_SECONDS)) - 1]
                reminder.next_attempt_at = now() + timedelta(seconds=wait)
