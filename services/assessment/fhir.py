"""Form definitions and assessments as FHIR R4 resources.

Partner health systems (GP practices, community health, hospital trusts) exchange data as FHIR, not
in our form format. A form version renders as a `Questionnaire` and one assessment's answers as a
`QuestionnaireResponse`, so their systems can show and store an early help assessment with the
tooling they already have.

Every question's `linkId` is its answer's JSON Pointer (RFC 6901); inside a repeating group it is the
group's pointer followed by the question's pointer relative to one entry (`/family_members/name`),
and each entry is one repetition of the group item. A response therefore maps back to our answers
without a lookup table, and a new form version needs no mapping work. Pages and sections, which
have no pointer, become `group` items whose linkIds do not start with `/`.

A family renders as a `Bundle` of its `Group` (the subject of every response) and one `Patient` a member.
FHIR has places for a member's sex (`gender`), postcode (`address.postalCode`), first language
(`communication.language`, as text: we keep the language in words) and identifiers (the NHS number in
NHS England's system). Ethnicity goes in UK Core's ethnic-category extension, coded in our own system
because UK Core's codes are the NHS Data Dictionary's 2001-based list and ours are the ONS 2021 Census's
19 categories, which do not map one to one (Roma, Arab, Gypsy or Irish Traveller). SEND status, the
young-carer flag and the relationship to the child have no UK Core home: they are plain extensions under
`urn:graduated-pathway:fhir:extension:`.

Pure functions, no I/O: the callers load definitions and answers and return the dicts as JSON.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from services.assessment.demographics import ETHNIC_CATEGORIES, Ethnicity

# Re-exported as well as used: a response is read back into answers by these names.
from services.kit.jsonpointer import MISSING as MISSING
from services.kit.jsonpointer import pointer_tokens as pointer_tokens
from services.kit.jsonpointer import read_pointer as read_pointer

FORM_URL_PREFIX: Final = "urn:graduated-pathway:form:"

QUESTIONNAIRE_STATUS: Final[Mapping[str, str]] = {"draft": "draft", "published": "active", "retired": "retired"}
RESPONSE_STATUS: Final[Mapping[str, str]] = {"draft": "in-progress", "submitted": "completed"}

_TEXT_WIDGETS: Final = frozenset({"text", "email", "textarea"})
_CHOICE_WIDGETS: Final = frozenset({"radios", "select", "checkboxes"})


NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
UK_CORE_ETHNIC_CATEGORY: Final = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
ETHNICITY_SYSTEM: Final = "urn:graduated-pathway:ons-2021-ethnic-group"
EXTENSION_PREFIX: Final = "urn:graduated-pathway:fhir:extension:"
GENDER: Final[Mapping[str, str]] = {
    "female": "female",
    "male": "male",
    "indeterminate": "other",
    "not_known": "unknown",
}


def form_url(key: str) -> str:
    """The canonical URL of a form across its versions; `<url>|<version>` names one version."""
    return f"{FORM_URL_PREFIX}{key}"


def questionnaire(
    *,
    key: str,
    version: int,
    title: str,
    status: str,
    schema: dict[str, Any],
    layout: dict[str, Any],
    description: str | None = None,
) -> dict[str, Any]:
    """One form version as a FHIR R4 `Questionnaire` (JSON-ready)."""
    if status not in QUESTIONNAIRE_STATUS:
        raise ValueError(f"unknown form status {status!r}")
    builder = _Builder(key=key, schema=schema)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"{key}-{version}",
        "url": form_url(key),
        "version": str(version),
        "name": _computer_name(key),
        "title": title,
        "status": QUESTIONNAIRE_STATUS[status],
        "subjectType": ["Group"],
    }
    if description:
        resource["description"] = description
    items = [page for page in builder.pages(layout) if page.get("item")]
    if items:
        resource["item"] = items
    return resource


def questionnaire_response(
    *,
    assessment_id: str,
    key: str,
    version: int,
    status: str,
    authored: datetime,
    organisation_id: str,
    family_id: str,
    layout: dict[str, Any],
    schema: dict[str, Any],
    answers: dict[str, Any],
) -> dict[str, Any]:
    """One assessment's answers as a FHIR R4 `QuestionnaireResponse` (JSON-ready).

    Unanswered questions (missing, `null`, blank text, no choice ticked) and groups left with nothing
    in them are left out, as FHIR requires. A naive `authored` is taken to be UTC.
    """
    if status not in RESPONSE_STATUS:
        raise ValueError(f"unknown assessment status {status!r}")
    if authored.tzinfo is None:
        authored = authored.replace(tzinfo=UTC)
    builder = _Builder(key=key, schema=schema)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": assessment_id,
        "questionnaire": f"{form_url(key)}|{version}",
        "status": RESPONSE_STATUS[status],
        "subject": {"reference": f"Group/{family_id}"},
        "authored": authored.isoformat(),
        "author": {"reference": f"Organization/{organisation_id}"},
    }
    items = builder.answered_pages(layout, answers)
    if items:
        resource["item"] = items
    return resource


def family_bundle(*, family_id: str, members: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A family as a FHIR R4 `Bundle` (collection) of its `Group` and one `Patient` a member (JSON-ready).

    `members` are the family's members as `GET /families/{id}` answers them (JSON names, dates as text).
    """
    patients = [_patient(member) for member in members]
    group = {
        "resourceType": "Group",
        "id": family_id,
        "type": "person",
        "actual": True,
        "quantity": len(patients),
        "member": [{"entity": {"reference": f"urn:uuid:{patient['id']}"}} for patient in patients],
    }
    return {
        "resourceType": "Bundle",
        "id": family_id,
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{family_id}", "resource": group}]
        + [{"fullUrl": f"urn:uuid:{patient['id']}", "resource": patient} for patient in patients],
    }


def _patient(member: Mapping[str, Any]) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": member["id"],
        "name": [{"family": member["family_name"], "given": [member["given_name"]]}],
    }
    identifiers = [_identifier(identifier) for identifier in member.get("identifiers", [])]
    if identifiers:
        patient["identifier"] = identifiers
    if member.get("sex"):
        patient["gender"] = GENDER[member["sex"]]
    if member.get("date_of_birth"):
        patient["birthDate"] = str(member["date_of_birth"])
    if member.get("postcode"):
        patient["address"] = [{"use": "home", "postalCode": member["postcode"]}]
    if member.get("first_language"):
        patient["communication"] = [{"language": {"text": member["first_language"]}}]
    extensions: list[dict[str, Any]] = []
    if member.get("ethnicity"):
        group, label = ETHNIC_CATEGORIES[Ethnicity(member["ethnicity"])]
        coding = {"system": ETHNICITY_SYSTEM, "code": member["ethnicity"], "display": label}
        concept = {"coding": [coding], "text": f"{group}: {label}"}
        extensions.append({"url": UK_CORE_ETHNIC_CATEGORY, "valueCodeableConcept": concept})
    if member.get("send_status"):
        extensions.append({"url": f"{EXTENSION_PREFIX}send-status", "valueCode": member["send_status"]})
    if member.get("young_carer") is not None:
        extensions.append({"url": f"{EXTENSION_PREFIX}young-carer", "valueBoolean": member["young_carer"]})
    if member.get("relationship"):
        extensions.append({"url": f"{EXTENSION_PREFIX}relationship", "valueString": member["relationship"]})
    if extensions:
        patient["extension"] = extensions
    return patient


def _identifier(identifier: Mapping[str, Any]) -> dict[str, str]:
    system = identifier["system"]
    if system == "nhs":
        return {"system": NHS_NUMBER_SYSTEM, "value": identifier["value"]}
    if system == "local":
        return {"system": f"urn:graduated-pathway:local-id:{identifier['issuer']}", "value": identifier["value"]}
    return {"system": f"urn:graduated-pathway:{system}", "value": identifier["value"]}


def _computer_name(key: str) -> str:
    """`early-help-assessment` -> `EarlyHelpAssessment` (FHIR's `[A-Z]([A-Za-z0-9_]){0,254}`)."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", key))
    if not name[:1].isalpha():
        name = "Form" + name
    return name[:255]


class _Builder:
    """Walks one form's layout (for order) alongside its schema (for types, required and lengths)."""

    def __init__(self, *, key: str, schema: dict[str, Any]) -> None:
        self.system = form_url(key)
        self.schema = schema

    # -- the schema

    def _resolve(self, node: Any) -> dict[str, Any]:
        """Follows local `$ref`s (`#/$defs/...`); anything else that is not a schema is `{}`."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            node = read_pointer(self.schema, node["$ref"][1:])
            seen += 1
            if seen > 32:
                break
        return node if isinstance(node, dict) else {}

    def _walk(self, root: dict[str, Any], pointer: str) -> tuple[dict[str, Any], bool]:
        """The schema at `pointer` below the object schema `root`, and whether every step is required."""
        node = self._resolve(root)
        required = True
        for token in pointer_tokens(pointer):
            required = required and token in node.get("required", ())
            node = self._resolve(node.get("properties", {}).get(token))
        return node, required

    @staticmethod
    def _type(node: Mapping[str, Any]) -> str | None:
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        return kind if isinstance(kind, str) else None

    def _number_type(self, node: Mapping[str, Any]) -> str:
        return "integer" if self._type(node) == "integer" else "decimal"

    # -- the Questionnaire

    def pages(self, layout: Mapping[str, Any]) -> list[dict[str, Any]]:
        pages = []
        for number, page in enumerate(layout.get("pages", []), start=1):
            page_id = _page_link_id(page, number)
            sections = []
            for section_number, section in enumerate(page.get("sections", []), start=1):
                section_id = f"{page_id}/section-{section_number}"
                children: list[dict[str, Any]] = []
                if section.get("description"):
                    children.append(_display(f"{section_id}-description", section["description"]))
                children += self._questions(section.get("questions", []), root=self.schema, prefix="")
                if children:
                    sections.append(_group(section_id, section.get("title"), children))
            if sections:
                pages.append(_group(page_id, page.get("title"), sections))
        return pages

    def _questions(
        self, questions: Iterable[Mapping[str, Any]], *, root: dict[str, Any], prefix: str
    ) -> list[dict[str, Any]]:
        return [self._question(question, root=root, prefix=prefix) for question in questions]

    def _question(self, question: Mapping[str, Any], *, root: dict[str, Any], prefix: str) -> dict[str, Any]:
        pointer: str = question["pointer"]
        widget: str = question["widget"]
        link_id = prefix + pointer
        node, required = self._walk(root, pointer)
        item: dict[str, Any] = {"linkId": link_id, "text": question["label"], "type": self._item_type(widget, node)}
        if required:
            item["required"] = True
        children: list[dict[str, Any]] = []
        if question.get("hint"):
            children.append(_display(f"{link_id}-hint", question["hint"]))
        if widget == "repeating-group":
            item["repeats"] = True
            entry = self._resolve(node.get("items"))
            children += self._questions(question.get("questions", []), root=entry, prefix=link_id)
        elif widget in _CHOICE_WIDGETS:
            if widget == "checkboxes":
                item["repeats"] = True
            item["answerOption"] = [
                {"valueCoding": self._coding(question, option["value"])} for option in question["options"]
            ]
        if item["type"] in {"string", "text"} and isinstance(node.get("maxLength"), int):
            item["maxLength"] = node["maxLength"]
        if children:
            item["item"] = children
        return item

    def _item_type(self, widget: str, node: Mapping[str, Any]) -> str:
        match widget:
            case "text" | "email":
                return "string"
            case "textarea":
                return "text"
            case "number":
                return self._number_type(node)
            case "date":
                return "date"
            case "yes-no":
                return "boolean"
            case "radios" | "select" | "checkboxes":
                return "choice"
            case "repeating-group":
                return "group"
        raise ValueError(f"unknown widget {widget!r}")

    def _coding(self, question: Mapping[str, Any], value: Any) -> dict[str, Any]:
        coding: dict[str, Any] = {"system": self.system, "code": str(value)}
        label = next((o.get("label") for o in question.get("options", []) if o.get("value") == value), None)
        if label:
            coding["display"] = label
        return coding

    # -- the QuestionnaireResponse

    def answered_pages(self, layout: Mapping[str, Any], answers: Mapping[str, Any]) -> list[dict[str, Any]]:
        pages = []
        for number, page in enumerate(layout.get("pages", []), start=1):
            page_id = _page_link_id(page, number)
            sections = []
            for section_number, section in enumerate(page.get("sections", []), start=1):
                children = self._answered(section.get("questions", []), answers, root=self.schema, prefix="")
                if children:
                    sections.append(
                        _answered_group(f"{page_id}/section-{section_number}", section.get("title"), children)
                    )
            if sections:
                pages.append(_answered_group(page_id, page.get("title"), sections))
        return pages

    def _answered(
        self, questions: Iterable[Mapping[str, Any]], values: Any, *, root: dict[str, Any], prefix: str
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for question in questions:
            pointer: str = question["pointer"]
            link_id = prefix + pointer
            value = read_pointer(values, pointer)
            node, _ = self._walk(root, pointer)
            if question["widget"] == "repeating-group":
                entry_schema = self._resolve(node.get("items"))
                for entry in value if isinstance(value, list) else []:
                    children = self._answered(question.get("questions", []), entry, root=entry_schema, prefix=link_id)
                    if children:
                        items.append(_answered_group(link_id, question["label"], children))
                continue
            answers = self._answers(question, node, value)
            if answers:
                items.append({"linkId": link_id, "text": question["label"], "answer": answers})
        return items

    def _answers(self, question: Mapping[str, Any], node: Mapping[str, Any], value: Any) -> list[dict[str, Any]]:
        if value is MISSING or value is None:
            return []
        match question["widget"]:
            case "text" | "email" | "textarea":
                return [{"valueString": value}] if str(value).strip() else []
            case "date":
                return [{"valueDate": value}] if value else []
            case "number":
                if self._number_type(node) == "integer":
                    return [{"valueInteger": int(value)}]
                return [{"valueDecimal": value}]
            case "yes-no":
                return [{"valueBoolean": bool(value)}]
            case "radios" | "select":
                return [{"valueCoding": self._coding(question, value)}] if value != "" else []
            case "checkboxes":
                chosen = value if isinstance(value, list) else [value]
                return [{"valueCoding": self._coding(question, choice)} for choice in chosen]
        raise ValueError(f"unknown widget {question['widget']!r}")


def _page_link_id(page: Mapping[str, Any], number: int) -> str:
    page_id = page.get("id")
    return str(page_id) if page_id else f"page-{number}"


def _group(link_id: str, text: str | None, children: list[dict[str, Any]]) -> dict[str, Any]:
    """A Questionnaire group item."""
    return _titled(link_id, text) | {"type": "group", "item": children}


def _answered_group(link_id: str, text: str | None, children: list[dict[str, Any]]) -> dict[str, Any]:
    """A QuestionnaireResponse group item (responses carry no `type`)."""
    return _titled(link_id, text) | {"item": children}


def _titled(link_id: str, text: str | None) -> dict[str, Any]:
    return {"linkId": link_id, "text": text} if text else {"linkId": link_id}


def _display(link_id: str, text: str) -> dict[str, Any]:
    return {"linkId": link_id, "text": text, "type": "display"}
