from pathlib import Path

from pydantic import AliasChoices, Field

from services.access.config import AccessSettings
from services.plan.outcomes_plan import DEMO_PLAN
from services.plan.population import SHIPPED_POPULATION


class PlanSettings(AccessSettings):
    name: str = "plan"
    # Where the plan service reads the needs a submitted assessment found (as itself, with its own client).
    assessment_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=AliasChoices("assessment_url", "PLAN_ASSESSMENT_URL")
    )
    # How often to look for reviews that have fallen due.
    review_sweep_seconds: float = Field(
        default=300.0, validation_alias=AliasChoices("review_sweep_seconds", "PLAN_REVIEW_SWEEP_SECONDS")
    )
    # The council's Supporting Families outcomes plan (YAML or JSON); the demo council's when left out.
    supporting_families_plan: Path = Field(
        default=DEMO_PLAN,
        validation_alias=AliasChoices("supporting_families_plan", "PLAN_SUPPORTING_FAMILIES_PLAN"),
    )
    # The council's child population by locality (CSV: locality_code, locality_name, children); the demo's
    # made-up figures when left out.
    child_population: Path = Field(
        default=SHIPPED_POPULATION, validation_alias=AliasChoices("child_population", "PLAN_CHILD_POPULATION")
    )
