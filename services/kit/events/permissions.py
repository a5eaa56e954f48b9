"""NATS users with subject permissions, in one account that holds the streams.

Each process of the system signs in as a user of its own, with an nkey: the server holds public
keys only, and each process its seed. What a user may do is an allow-list, so what is not listed
is refused:

- publish the subjects of the events it emits, and dead-letter its own consumers' events;
- of JetStream's API: read the streams' info, read and pull from its own durable consumers and
  acknowledge their messages, read and remove dead letters (an operator's replay), and make the
  one consumer every process has of its own: of `credentials.revoked` alone, pushed to its inbox
  (`services.kit.revocation`; the API subject names the filter, which the server holds it to);
- of the key-value bucket (`services.kit.events.keyvalue`): write and read the keys it raises and
  publish their sign of life, and make a consumer of each key it watches, pushed to its inbox (the
  API subject names the key), and hear that key's sign of life;
- subscribe to its own reply inbox, where JetStream answers it and delivers what it pulls, and to
  nothing else but the signs of life of the keys it watches.

So no process creates, changes, purges or deletes a stream or a consumer, nor reads a subject
through a consumer of its own making: the durable consumers are made, with their subjects, by the
one user that manages the streams (`$JS.API.>`). No one may connect without a user.
"""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nkeys

from services.kit.events.broker import stream_of
from services.kit.events.envelope import nats_subject
from services.kit.events.keyvalue import alive_subject_of, subject_of
from services.kit.revocation import REVOKED_EVENT_TYPE
from services.kit.settings import NatsSettings

ACCOUNT = "PATHWAY"


@dataclass(frozen=True)
class NatsUser:
    """One process's user: the subjects it publishes, the durable consumers it reads, the keys it raises and watches."""

    name: str
    publishes: Sequence[str] = ()
    consumers: Sequence[str] = ()
    raises: Sequence[str] = ()
    watches: Sequence[str] = ()
    manages_streams: bool = False

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX.{self.name}"


def permissions(user: NatsUser, settings: NatsSettings) -> dict[str, Any]:
    """The nats-server `permissions` block of `user`."""
    stream, dead = settings.stream, settings.dead_letter_stream
    if user.manages_streams:
        publish = ["$JS.API.>"]
    else:
        publish = [
            *user.publishes,
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.INFO.{dead}",
            f"$JS.API.CONSUMER.CREATE.{stream}.*.{nats_subject(REVOKED_EVENT_TYPE)}",
        ]
        for durable in user.consumers:
            publish += [
                f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                f"$JS.ACK.{stream}.{durable}.>",
                f"{settings.dead_letter_prefix}.{durable}",
            ]
        if user.consumers:
            publish += [f"$JS.API.STREAM.MSG.GET.{dead}", f"$JS.API.STREAM.MSG.DELETE.{dead}"]
        bucket = stream_of(settings.bucket)
        if user.raises:
            publish.append(f"$JS.API.STREAM.INFO.{bucket}")
        for key in user.raises:
            held = subject_of(settings.bucket, key)
            publish += [held, f"$JS.API.DIRECT.GET.{bucket}.{held}", alive_subject_of(settings.bucket, key)]
        for key in user.watches:
            publish.append(f"$JS.API.CONSUMER.CREATE.{bucket}.*.{subject_of(settings.bucket, key)}")
    subscribe = [f"{user.inbox_prefix}.>", *(alive_subject_of(settings.bucket, key) for key in user.watches)]
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def new_seed() -> str:
    """A new user nkey's seed: the secret a process signs in with."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode()


def public_key(seed: str) -> str:
    key: bytes = nkeys.from_seed(bytearray(seed.encode())).public_key
    return key.decode()


def accounts_config(users: Sequence[NatsUser], seeds: Mapping[str, str], settings: NatsSettings) -> str:
    """The nats-server `accounts` block giving each user, by the public key of its seed, its permissions.

    The server's configuration includes it; it names public keys only.
    """
    account = {
        "jetstream": "enabled",
        "users": [{"nkey": public_key(seeds[user.name]), "permissions": permissions(user, settings)} for user in users],
    }
    # The configuration language of nats-server reads JSON.
    return f"accounts: {json.dumps({ACCOUNT: account}, indent=2)}\n"
