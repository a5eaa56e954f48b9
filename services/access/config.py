"""The settings of a service that keeps a family's data: the kit's, and where its reads are decided."""

from pydantic import Field

from services.kit.settings import ServiceSettings


class AccessSettings(ServiceSettings):
    # Where reads of a family's data are decided (the consent service); empty: by authorship alone.
    access_decisions_url: str = Field(default="", validation_alias="ACCESS_DECISIONS_URL")
