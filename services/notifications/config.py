from pydantic import AliasChoices, Field

from services.access.config import AccessSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"NOTIFICATIONS_{name.upper()}")


class NotificationsSettings(AccessSettings):
    name: str = "notifications"
    # A Fernet key (urlsafe base64 of 32 bytes) that seals the signing secrets at rest.
    secrets_key: str = Field(default="", validation_alias=_env("secrets_key"))
    # Networks a webhook URL may resolve into although they are not public (CIDR or single addresses).
    # The embedded default allows loopback so that integrators on the same machine work.
    allowed_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"], validation_alias=_env("allowed_networks")
    )
    # How long after the first failed attempt a delivery keeps being retried (3 days).
    give_up_after_seconds: float = Field(default=3 * 24 * 3600.0, validation_alias=_env("give_up_after_seconds"))
    # The waits between attempts; the last one repeats until the delivery is given up.
    retry_delays_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0, 6 * 3600.0, 12 * 3600.0],
        validation_alias=_env("retry_delays_seconds"),
    )
    # A receiver has this long to answer 2xx.
    delivery_timeout_seconds: float = Field(default=10.0, validation_alias=_env("delivery_timeout_seconds"))
    # At most this many deliveries in flight to one subscription, so a slow one cannot starve the rest.
    in_flight_per_subscription: int = Field(default=16, validation_alias=_env("in_flight_per_subscription"))
    # At most this many to one organisation's subscriptions, so that one organisation's slow receivers leave
    # slots for the others' deliveries (256 / 64: four organisations at their limit still leave none out).
    in_flight_per_organisation: int = Field(default=64, validation_alias=_env("in_flight_per_organisation"))
    in_flight_total: int = Field(default=256, validation_alias=_env("in_flight_total"))
    # How many subscriptions one organisation may hold; one more is refused with 409 `subscription-limit-reached`.
    max_subscriptions_per_organisation: int = Field(
        default=20, validation_alias=_env("max_subscriptions_per_organisation")
    )
    # A replay reads kept events this many at a time.
    replay_page_size: int = Field(default=500, validation_alias=_env("replay_page_size"))
    # The dispatcher and the mailer sleep until their next due time (a retry, a lapsed lease) or until a
    # commit of this process brings new work, and look anyway after this long: for work committed by
    # another process on the same database (a second replica).
    idle_check_seconds: float = Field(default=60.0, gt=0, validation_alias=_env("idle_check_seconds"))
    # After a rotation, the old secret keeps signing alongside the new one this long.
    rotation_overlap_seconds: float = Field(default=24 * 3600.0, validation_alias=_env("rotation_overlap_seconds"))
    # Forwarded events are kept this long, for replay.
    keep_events_days: int = Field(default=30, validation_alias=_env("keep_events_days"))
    # Where the plan service answers which organisations a plan names and who leads it.
    plan_url: str = Field(default="http://127.0.0.1:8003", validation_alias=_env("plan_url"))
    # Reminders: the SMTP relay, the sender, and the address of the staff front end that e-mails link to.
    smtp_host: str = Field(default="127.0.0.1", validation_alias=_env("smtp_host"))
    smtp_port: int = Field(default=1025, validation_alias=_env("smtp_port"))
    smtp_username: str = Field(default="", validation_alias=_env("smtp_username"))
    smtp_password: str = Field(default="", validation_alias=_env("smtp_password"))
    smtp_starttls: bool = Field(default=False, validation_alias=_env("smtp_starttls"))
    mail_from: str = Field(default="Graduated Pathway <no-reply@pathway.invalid>", validation_alias=_env("mail_from"))
    front_end_url: str = Field(default="http://127.0.0.1:8000/staff", validation_alias=_env("front_end_url"))
