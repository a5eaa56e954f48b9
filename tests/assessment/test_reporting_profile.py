"""A platform service reads a family's reporting profile: its locality from the council's postcode lookup, and its
children's age bands, sex and ethnicity; never a name, date of birth, identifier or postcode. Audited."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from services.assessment.localities import LocalityLookupInvalid, load_localities
from tests.support.assessment import RunningAssessments
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.streams import data_of, events_of

FAMILY = {
    "members": [
        {"role": "adult", "given_name": "Grace", "family_name": "Okafor", "relationship": "mother"},
        {
            "role": "child",
            "given_name": "Amara",
            "family_name": "Okafor",
            "date_of_birth": "2021-03-01",
            "identifiers": [{"system": "nhs", "value": "9434765919"}],
            "sex": "female",
            "ethnicity": "black_african",
            "postcode": "ls6 2ab",
        },
        {"role": "child", "given_name": "Tobi", "family_name": "Okafor"},
        {"role": "child", "given_name": "Ada", "family_name": "Okafor", "date_of_birth": "2008-11-20", "sex": "male"},
    ]
}
PRIVATE = ("Okafor", "Amara", "2021-03-01", "2008-11-20", "9434765919", "LS6", "ls6")


def _service(assessments: RunningAssessments) -> Organisation:
    return assessments.organisation("org-services", "council", scopes="service")


async def _family(assessments: RunningAssessments, body: Mapping[str, object]) -> str:
    response = await assessments.client.post("/families", json=body, headers=assessments.organisation("org-a").headers)
    assert response.status_code == 201, response.text
    family_id: str = response.json()["id"]
    return family_id


async def _profile(assessments: RunningAssessments, family_id: str, on: str) -> dict[str, Any]:
    response = await assessments.client.get(
        f"/internal/families/{family_id}/reporting-profile", params={"on": on}, headers=_service(assessments).headers
    )
    assert response.status_code == 200, response.text
    assert not any(private in response.text for private in PRIVATE)
    profile: dict[str, Any] = response.json()
    return profile


async def test_the_profile_gives_bands_and_categories_and_the_locality_not_the_postcode(
    assessments: RunningAssessments,
) -> None:
    family_id = await _family(assessments, FAMILY)
    # Amara turns 5 on 1 March 2026 and Ada 18 on 20 November 2026; Tobi's birth date is not recorded.
    before = await _profile(assessments, family_id, "2026-02-28")
    assert before == {
        "family_id": family_id,
        "on": "2026-02-28",
        "locality_code": "northfield",  # LS6 in the demo's lookup
        "locality_name": "Northfield",
        "children": [
            {"age_band": "1_to_4", "sex": "female", "ethnicity": "black_african"},
            {"age_band": None, "sex": None, "ethnicity": None},
            {"age_band": "16_to_17", "sex": "male", "ethnicity": None},
        ],
    }
    after = await _profile(assessments, family_id, "2026-11-20")
    bands = [child["age_band"] for child in after["children"]]
    assert bands == ["5_to_9", None, "18_and_over"]

    # family: its audit entry; each read of the profile: its own, on the service's basis.
    events = await events_of(assessments, 3 + 1 + 2)
    reads = [
        data_of(event)
        for event in events
        if event.get_type() == "audit.recorded" and data_of(event)["action"] == "read_reporting_profile"
    ]
    assert [(read["family_id"], read["basis"], read["actor"]) for read in reads] == [
        (family_id, "service", "client-org-services")
    ] * 2


async def test_a_postcode_outside_the_lookup_or_none_gives_no_locality(assessments: RunningAssessments) -> None:
    outside = {"members": [{"role": "child", "given_name": "Sam", "family_name": "Lee", "postcode": "SW1A 1AA"}]}
    profile = await _profile(assessments, await _family(assessments, outside), "2026-01-01")
    assert (profile["locality_code"], profile["locality_name"]) == (None, None)
    assert profile["children"] == [{"age_band": None, "sex": None, "ethnicity": None}]


async def test_only_a_service_reads_a_profile_and_an_unknown_family_is_a_problem(
    assessments: RunningAssessments,
) -> None:
    family_id = await _family(assessments, FAMILY)
    practitioner = assessments.organisation("org-a")
    refused = await assessments.client.get(
        f"/internal/families/{family_id}/reporting-profile", headers=practitioner.headers
    )
    assert_problem(refused, 403, "insufficient-scope")
    unknown = await assessments.client.get(
        "/internal/families/no-such-family/reporting-profile", headers=_service(assessments).headers
    )
    assert_problem(unknown, 404, "family-not-found")


def test_a_sector_line_wins_over_its_district_and_a_bad_lookup_is_refused(tmp_path: Path) -> None:
    lookup = tmp_path / "lookup.csv"
    lookup.write_text("postcode_prefix,locality_code,locality_name\nLS6,north,North\nls6  4,park,Park\n")
    localities = load_localities(lookup)
    assert [localities.of(code) for code in ("LS6 4QR", "LS6 2AB", "LS7 1AA", None)] == [
        localities.by_prefix["LS6 4"],
        localities.by_prefix["LS6"],
        None,
        None,
    ]
    assert localities.by_prefix["LS6 4"].code == "park"
    lookup.write_text("postcode_prefix,locality_code,locality_name\nLS6,north,North\nLS6,park,Park\n")
    with pytest.raises(LocalityLookupInvalid, match="LS6 is in two localities"):
        load_localities(lookup)
    lookup.write_text("postcode,locality\nLS6,north\n")
    with pytest.raises(LocalityLookupInvalid, match="the columns must be"):
        load_localities(lookup)
