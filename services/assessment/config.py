from pathlib import Path

from pydantic import Field

from services.access.config import AccessSettings
from services.assessment.localities import SHIPPED_LOCALITIES

SHIPPED_FORMS = Path(__file__).resolve().parents[2] / "schemas" / "forms"


class AssessmentSettings(AccessSettings):
    name: str = "assessment"
    # The shipped form definitions, loaded (and checked against what is stored) at start.
    forms_dir: Path = Field(default=SHIPPED_FORMS, validation_alias="ASSESSMENT_FORMS_DIR")
    # The council's postcode-to-locality lookup (CSV: postcode_prefix, locality_code, locality_name); the demo's
    # made-up localities when left out.
    locality_lookup: Path = Field(default=SHIPPED_LOCALITIES, validation_alias="ASSESSMENT_LOCALITY_LOOKUP")
