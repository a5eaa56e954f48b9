"""The change matrix chart is well-formed, accessible, CSP-safe SVG that draws the scores it is given."""

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from markupsafe import Markup

from gateway.frontend.chart import GoalScores, change_matrix_svg

SVG = "http://www.w3.org/2000/svg"
NS = {"svg": SVG}
ET.register_namespace("", SVG)

JAN, FEB, MAR = date(2026, 1, 10), date(2026, 2, 21), date(2026, 3, 28)


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    pairs = [pair.split(",") for pair in polyline.attrib["points"].split()]
    return [(float(x), float(y)) for x, y in pairs]


def texts(root: ET.Element) -> list[str]:
    return ["".join(text.itertext()) for text in root.iterfind(".//svg:text", NS)]


def desc(root: ET.Element) -> str:
    element = root.find("svg:desc", NS)
    assert element is not None
    return element.text or ""


def test_each_goal_with_two_or_more_scores_is_one_polyline_and_higher_scores_sit_higher() -> None:
    root = parse(
        change_matrix_svg(
            [
                GoalScores("School attendance", [(JAN, 3), (FEB, 6), (MAR, 5)]),
                GoalScores("Housing", [(JAN, 8), (MAR, 2)]),
            ]
        )
    )
    attendance, housing = root.findall(".//svg:polyline", NS)
    first, second, third = (y for _, y in points(attendance))  # scores 3, 6, 5
    assert first > third > second
    assert len(points(housing)) == 2
    assert points(housing)[0][1] < points(housing)[1][1]
    assert attendance.attrib["stroke"] != housing.attrib["stroke"]
    assert attendance.attrib.get("stroke-dasharray") != housing.attrib.get("stroke-dasharray")


def test_dates_run_left_to_right_even_when_given_out_of_order() -> None:
    root = parse(change_matrix_svg([GoalScores("Routines", [(MAR, 7), (JAN, 2), (FEB, 4)])]))
    (line,) = root.findall(".//svg:polyline", NS)
    xs = [x for x, _ in points(line)]
    assert xs == sorted(xs)
    assert [y for _, y in points(line)] == sorted((y for _, y in points(line)), reverse=True)  # 2, 4, 7
    dates = [t for t in root.iterfind(".//svg:text", NS) if t.text and t.text.endswith("2026")]
    assert [t.text for t in dates] == ["10 Jan 2026", "21 Feb 2026", "28 Mar 2026"]
    assert [float(t.attrib["x"]) for t in dates] == xs


def test_a_single_score_is_a_marker_only_and_a_goal_without_scores_is_in_the_legend_only() -> None:
    root = parse(change_matrix_svg([GoalScores("Health", [(FEB, 4)]), GoalScores("Money", [])]))
    assert root.findall(".//svg:polyline", NS) == []
    circles = root.findall(".//svg:circle", NS)
    assert len(circles) == 3  # Health's one score, then a legend sample for each goal
    assert float(circles[0].attrib["cy"]) < min(float(c.attrib["cy"]) for c in circles[1:])
    assert "Goal 1: Health" in texts(root)
    assert "Goal 2: Money" in texts(root)
    assert "Goal 2, Money: no scores yet." in desc(root)


def test_the_desc_reads_out_every_score_for_screen_readers() -> None:
    root = parse(change_matrix_svg([GoalScores("Attendance", [(FEB, 6), (JAN, 3)]), GoalScores("Sleep", [(JAN, 9)])]))
    assert "Goal 1, Attendance: 3 on 2026-01-10, 6 on 2026-02-21." in desc(root)
    assert "Goal 2, Sleep: 9 on 2026-01-10." in desc(root)
    title = root.find("svg:title", NS)
    assert title is not None
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-labelledby"] == title.attrib["id"] == "change-matrix-title"


def test_labels_from_users_are_escaped() -> None:
    label = '<script>alert("x")</script> & "more"'
    svg = change_matrix_svg([GoalScores(label, [(JAN, 5)])], title_id='t"><script>')
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(".//svg:script", NS) is None and root.find(".//script") is None
    assert f"Goal 1: {label}" in texts(root)
    assert label in desc(root)
    assert root.attrib["aria-labelledby"] == 't"><script>'


def test_no_inline_styles_for_the_content_security_policy() -> None:
    root = parse(change_matrix_svg([GoalScores(f"Goal {n}", [(JAN, n), (FEB, 11 - n)]) for n in range(1, 10)]))
    assert root.find(".//svg:style", NS) is None
    assert [element.tag for element in root.iter() if "style" in element.attrib] == []


def test_long_labels_are_shortened_in_the_legend_but_read_out_in_full() -> None:
    label = "Improve school attendance to at least ninety per cent this term"
    root = parse(change_matrix_svg([GoalScores(label, [(JAN, 5)])]))
    (legend,) = [text for text in texts(root) if text.startswith("Goal 1: ")]
    assert legend.endswith("…") and len(legend) <= len("Goal 1: ") + 40
    assert label in desc(root)


@pytest.mark.parametrize("goals", [[], [GoalScores("Housing", [])]])
def test_no_reviews_says_so(goals: list[GoalScores]) -> None:
    root = parse(change_matrix_svg(goals))
    assert desc(root) == "No reviews recorded yet."
    assert texts(root) == ["No reviews recorded yet."]


def test_the_same_goals_give_the_same_string() -> None:
    goals = [GoalScores("A", [(FEB, 4), (JAN, 3)]), GoalScores("B", [(MAR, 9)])]
    assert change_matrix_svg(goals) == change_matrix_svg(list(goals))


def test_scores_outside_one_to_ten_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 10"):
        change_matrix_svg([GoalScores("A", [(JAN, 11)])])
