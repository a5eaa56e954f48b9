from pathlib import Path

from pydantic import Field

from services.access.config import AccessSettings

SHIPPED_FORMS = Path(__file__).resolve().parents[2] / "schemas" / "forms"


class AssessmentSettings(AccessSettings):
    name: str = "assessment"
    # The shipped form definitions, loaded (and checked against what is stored) at start.
    forms_dir: Path = Field(default=SHIPPED_FORMS, validation_alias="ASSESSMENT_FORMS_DIR")
