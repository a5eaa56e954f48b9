"""The whole-family early help assessment filled in the staff pages, page by page, as a practitioner does."""

from dataclasses import dataclass
from datetime import date

from playwright.async_api import expect

from tests.support.browser import Session, answer_everything, fill_date, save_and_continue


@dataclass(frozen=True)
class WholeFamily:
    """What the practitioner writes where it matters; every other question gets `answer_everything`'s answer."""

    children: tuple[tuple[str, str], ...]  # each child's name and what is said of their education
    adult: str
    adult_needs: tuple[str, ...]  # labels of "Which of these affect them?"
    family_says: str
    agrees: str = "Partly"
    need: tuple[str, str] | None = None  # the need agreed (description, outcome area), when it is not left to chance
    level_of_need: str | None = None  # the label of "Level of need", when it is not left to chance
    next_step: str | None = None  # the label of "What happens next?", when it is not left to chance
    held_on: date | None = None  # the day it was started and completed, when it is not left to chance


async def fill_whole_family_assessment(session: Session, family_url: str, answers: WholeFamily) -> str:
    """Start the early help assessment from the family's page and fill it up to checking the answers; its id."""
    page = session.page
    await page.goto(family_url)
    await page.get_by_label("Start a new").select_option("early-help-assessment")
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page.get_by_role("heading", name="Early help assessment")).to_be_visible()
    assessment_id = page.url.rsplit("/", 1)[-1]
    await session.step("task-list")
    for title in ("Each child's developmental needs", "The adults' needs", "Safeguarding check"):
        await expect(page.get_by_role("link", name=title)).to_be_visible()

    await page.get_by_role("link", name="About this assessment").click()
    await expect(page.get_by_role("heading", name="About this assessment")).to_be_visible()
    if answers.held_on:
        await fill_date(page, "Date the assessment started", answers.held_on)
    await answer_everything(page)
    await save_and_continue(page)
    await expect(page.get_by_role("heading", name="The family")).to_be_visible()
    await answer_everything(page)
    await save_and_continue(page)

    # Each child is assessed in turn: one entry per child, each after the first added on the same page.
    await expect(page.get_by_role("heading", name="Each child's developmental needs")).to_be_visible()
    await expect(page.locator(".govuk-caption-l")).to_contain_text("page 3 of 10")
    for number, (name, education) in enumerate(answers.children):
        if number:
            await page.get_by_role("button", name="Add another child").click()
            await expect(page.get_by_role("heading", name=f"Child {number + 1}")).to_be_visible()
            await expect(page.locator("input[name='/children/0/name']")).to_have_value(answers.children[0][0])
        await page.locator(f"input[name='/children/{number}/name']").fill(name)
        await page.locator(f"textarea[name='/children/{number}/education']").fill(education)
        await answer_everything(page)
    await session.step("each-child")
    await save_and_continue(page)

    while "/pages/adults" not in page.url:
        await answer_everything(page)
        await save_and_continue(page)
    await page.locator("input[name='/adults/0/name']").fill(answers.adult)
    affecting = page.get_by_role("group", name="Which of these affect them?")
    for label in answers.adult_needs:
        await affecting.get_by_label(label).check()
    await answer_everything(page)
    await session.step("adults")
    await save_and_continue(page)

    await expect(page.get_by_role("heading", name="Safeguarding check")).to_be_visible()
    worried = page.get_by_role(
        "group", name="Are you worried that any child in the family is at risk of significant harm?"
    )
    await worried.get_by_label("No").check()
    await answer_everything(page)
    await session.step("safeguarding")
    await save_and_continue(page)

    await expect(page.get_by_role("heading", name="The family's view and strengths")).to_be_visible()
    await page.get_by_label("What the family say").fill(answers.family_says)
    agreeing = page.get_by_role("group", name="Does the family agree with this assessment?")
    await agreeing.get_by_label(answers.agrees).check()
    while not page.url.endswith("/check"):
        if answers.need and page.url.endswith("/pages/needs"):
            await page.locator("textarea[name='/needs/0/description']").fill(answers.need[0])
            await _choose(session, "/needs/0/outcome_area", answers.need[1])
        if answers.level_of_need and page.url.endswith("/pages/outcome"):
            await page.get_by_role("group", name="Level of need").get_by_label(answers.level_of_need).check()
        if answers.next_step and page.url.endswith("/pages/outcome"):
            await page.get_by_role("group", name="What happens next?").get_by_label(answers.next_step).check()
        if answers.held_on and page.url.endswith("/pages/outcome"):
            await fill_date(page, "Date the assessment was completed", answers.held_on)
        await answer_everything(page)
        await session.step(page.url.rsplit("/", 1)[-1])
        await save_and_continue(page)

    await expect(page.get_by_role("heading", name="Check your answers before submitting")).to_be_visible()
    return assessment_id


async def _choose(session: Session, name: str, value: str) -> None:
    """A question answered from a list, whether the form draws it as radios or as a select."""
    field = session.page.locator(f"[name='{name}']")
    if await field.first.evaluate("(element) => element.tagName") == "SELECT":
        await field.select_option(value)
    else:
        await session.page.locator(f"[name='{name}'][value='{value}']").check()
