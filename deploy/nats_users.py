"""Every process's NATS user, from one table: the subjects it publishes and the durable consumers it reads.

A service publishes the events of the aggregates its event catalogue declares (`EVENT_PAYLOADS`:
`plan.*` for the plan service, say, new event types of them included), and the access log entries
of the reads it records (`audit.recorded`); what it reads are the durable consumers its app starts,
each with its subjects. From the table come the users' permissions
(`services.kit.events.permissions`), the nats-server configuration that holds them, and the
durable consumers the `streams` user makes. Only the consent service may publish what changes
access (`consent.*`, `override.*`, `access.*`) or speaks for the access log (`audit.*` beyond
`audit.recorded`); `tests/security/test_nats_permissions.py` holds the table to it.

`python -m deploy.nats_users generate FOLDER` writes, into FOLDER (made private): `accounts.conf`,
which nats-server includes, and one nkey seed per user, `<user>.nk`. Seeds already there are kept,
so running it again changes only the permissions; delete a seed to replace it. `make up` does it
into `$PATHWAY_DATA_DIR/nats-users`; for `docker-compose.yml`, `make nats-users` writes
`.data/nats-users`, which the compose file hands to each container as secrets (a Kubernetes
Secret per file does the same). `python -m deploy.nats_users provision` makes the streams and
durable consumers as the `streams` user, with the `NATS_*` settings of its environment.
"""

import asyncio
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nats

from gateway.events import EVENT_PAYLOADS as GATEWAY_EVENTS
from services.access.audit import AUDIT_EVENT_TYPE
from services.access.projection import ACCESS_REVISION_KEY, access_copy_consumer
from services.assessment.events import EVENT_PAYLOADS as ASSESSMENT_EVENTS
from services.consent.events import EVENT_PAYLOADS as CONSENT_EVENTS
from services.consent.main import ACCESS_LOG
from services.kit.events.broker import ensure_streams, signing_in
from services.kit.events.consumer import ConsumerSpec, consumer_config
from services.kit.events.envelope import nats_subject
from services.kit.events.permissions import NatsUser, accounts_config, new_seed
from services.kit.settings import ConsumerSettings, NatsSettings
from services.notifications.events import EVENT_PAYLOADS as NOTIFICATIONS_EVENTS
from services.notifications.main import INTAKE, REMINDERS
from services.plan.events import EVENT_PAYLOADS as PLAN_EVENTS
from services.plan.events import PROFILE_REFRESHES

STREAMS_USER = "streams"  # the one process that makes and changes the streams and durable consumers

# The plan service's consumer of submitted assessments; its app builds it with the handler's clients
# (`AssessmentEvents.consumer`), so only its name and subjects are repeated here.
PLAN_ASSESSMENTS = ConsumerSpec(
    name="plan-assessments", subjects=[nats_subject("assessment.created"), nats_subject("assessment.submitted")]
)

# The plan service's consumer of plans opening and assessments starting, which keeps the reports' profile of the
# family (`PlanOpenings`).
PLAN_REPORTING_PROFILES = ConsumerSpec(
    name="plan-reporting-profiles", subjects=[nats_subject(event_type) for event_type in PROFILE_REFRESHES]
)


# The access log's aggregate: the consent service keeps the log and speaks for it (`audit.checkpoint`, ...).
AUDIT = AUDIT_EVENT_TYPE.split(".")[0]


def aggregates_of(event_types: Iterable[str]) -> list[str]:
    """The subjects of the aggregates of these events; of the access log's, `audit.recorded` alone."""
    subjects = {
        nats_subject(event_type if event_type == AUDIT_EVENT_TYPE else f"{event_type.split('.')[0]}.>")
        for event_type in event_types
    }
    return sorted(subjects)


@dataclass(frozen=True)
class Service:
    """What one process publishes, the durable consumers it reads, and the keys of the bucket it raises or watches."""

    publishes: Sequence[str]
    consumes: Sequence[ConsumerSpec]
    raises: Sequence[str] = ()
    watches: Sequence[str] = ()


# Only the consent service writes the access revision; each service keeping a copy of grants watches it.
SERVICES: dict[str, Service] = {
    "assessment": Service(
        aggregates_of(ASSESSMENT_EVENTS), [access_copy_consumer("assessment")], watches=[ACCESS_REVISION_KEY]
    ),
    # The consent service keeps the access log: it speaks for all of it, not `audit.recorded` alone.
    "consent": Service(aggregates_of([*CONSENT_EVENTS, f"{AUDIT}.any"]), [ACCESS_LOG], raises=[ACCESS_REVISION_KEY]),
    "plan": Service(
        aggregates_of(PLAN_EVENTS),
        [PLAN_ASSESSMENTS, PLAN_REPORTING_PROFILES, access_copy_consumer("plan")],
        watches=[ACCESS_REVISION_KEY],
    ),
    "notifications": Service(
        aggregates_of(NOTIFICATIONS_EVENTS),
        [INTAKE, REMINDERS, access_copy_consumer("notifications")],
        watches=[ACCESS_REVISION_KEY],
    ),
    "gateway": Service(aggregates_of(GATEWAY_EVENTS), []),  # revoked credentials; its readiness
}


def users() -> list[NatsUser]:
    table = [
        NatsUser(
            name,
            publishes=service.publishes,
            consumers=[spec.name for spec in service.consumes],
            raises=service.raises,
            watches=service.watches,
        )
        for name, service in SERVICES.items()
    ]
    return [*table, NatsUser(STREAMS_USER, manages_streams=True)]


def durable_consumers() -> list[ConsumerSpec]:
    return [spec for service in SERVICES.values() for spec in service.consumes]


@dataclass(frozen=True)
class Credentials:
    """A folder of generated NATS credentials: the server's `accounts.conf` and each user's seed."""

    folder: Path

    @property
    def accounts_config(self) -> Path:
        return self.folder / "accounts.conf"

    def seed_file(self, user: str) -> Path:
        return self.folder / f"{user}.nk"

    def settings_of(self, user: str) -> dict[str, str]:
        """The environment that signs a process in as `user`."""
        return {
            "NATS_NKEY_SEED_FILE": str(self.seed_file(user)),
            "NATS_INBOX_PREFIX": NatsUser(user).inbox_prefix,
            "NATS_MANAGE_STREAMS": "true" if user == STREAMS_USER else "false",
        }

    def nats_settings(self, user: str, url: str) -> NatsSettings:
        return NatsSettings(
            url=url,
            nkey_seed_file=self.seed_file(user),
            inbox_prefix=NatsUser(user).inbox_prefix,
            manage_streams=user == STREAMS_USER,
        )


def generate(folder: Path, settings: NatsSettings | None = None) -> Credentials:
    """Write the credentials of every user into `folder`, keeping seeds already there."""
    credentials = Credentials(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The folder is what keeps the seeds private. Each file stays readable by others because compose
    # bind-mounts a file secret as it is, and a container's user is not the one that made it.
    folder.chmod(0o700)
    seeds: dict[str, str] = {}
    for user in users():
        path = credentials.seed_file(user.name)
        if not path.exists():
            path.touch(mode=0o644)
            path.write_text(new_seed() + "\n")
        seeds[user.name] = path.read_text().strip()
    credentials.accounts_config.write_text(accounts_config(users(), seeds, settings or NatsSettings()))
    return credentials


async def provision(settings: NatsSettings, consumer_settings: ConsumerSettings | None = None) -> None:
    """As the `streams` user: make the streams and every durable consumer, or bring them in line. Idempotent."""
    nc = await nats.connect(servers=settings.servers, name=STREAMS_USER, connect_timeout=2, **signing_in(settings))
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        for spec in durable_consumers():
            await js.add_consumer(settings.stream, consumer_config(spec, consumer_settings or ConsumerSettings()))
    finally:
        await nc.close()


def main(arguments: Sequence[str]) -> None:
    match arguments:
        case ["generate", folder]:
            written = generate(Path(folder))
            print(f"wrote {written.accounts_config} and a seed for each of {', '.join(u.name for u in users())}")
        case ["provision"]:
            asyncio.run(provision(NatsSettings()))
            print("streams and durable consumers in place")
        case _:
            sys.exit("usage: python -m deploy.nats_users generate FOLDER | provision")


if __name__ == "__main__":
    main(sys.argv[1:])
