"""The dashboard's bar chart is well-formed, accessible, CSP-safe SVG whose bars are as long as their values."""

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from gateway.frontend.bar_chart import BAR_LEFT, BAR_RIGHT, Bar, bar_chart_svg

SVG = "http://www.w3.org/2000/svg"
NS = {"svg": SVG}
CLOSURES = [Bar("Outcomes met", 12, "12"), Bar("The family disengaged", 3, "3"), Bar("The family moved away", 6, "6")]


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input


def widths(root: ET.Element) -> list[float]:
    return [float(rect.attrib["width"]) for rect in root.iterfind(".//svg:rect", NS)]


def texts(root: ET.Element) -> list[str]:
    return ["".join(text.itertext()) for text in root.iterfind(".//svg:text", NS)]


def desc(root: ET.Element) -> str:
    element = root.find("svg:desc", NS)
    assert element is not None
    return element.text or ""


def test_bars_are_as_long_as_their_values_the_largest_filling_the_chart() -> None:
    root = parse(bar_chart_svg("Plans closed by reason", CLOSURES, title_id="closures"))

    longest = BAR_RIGHT - BAR_LEFT
    assert widths(root) == [longest, longest / 4, longest / 2]
    tops = [float(rect.attrib["y"]) for rect in root.iterfind(".//svg:rect", NS)]
    assert tops == sorted(tops)  # in the order given, top to bottom
    assert all(float(rect.attrib["x"]) == BAR_LEFT for rect in root.iterfind(".//svg:rect", NS))
    assert texts(root) == ["Outcomes met", "12", "The family disengaged", "3", "The family moved away", "6"]


def test_a_maximum_scales_shares_so_that_half_fills_half_the_chart() -> None:
    shares = [Bar("Early help again within 6 months", 0.5, "50%"), Bar("Within 12 months", 0.25, "25%")]
    root = parse(bar_chart_svg("Re-referrals", shares, title_id="re-referrals", maximum=1))

    assert widths(root) == [(BAR_RIGHT - BAR_LEFT) / 2, (BAR_RIGHT - BAR_LEFT) / 4]
    with pytest.raises(ValueError, match="maximum"):
        bar_chart_svg("Re-referrals", [Bar("Too many", 1.5, "150%")], title_id="x", maximum=1)


def test_the_title_and_desc_name_the_chart_and_read_out_every_value() -> None:
    root = parse(bar_chart_svg("Plans closed by reason", CLOSURES, title_id="chart-closures"))

    title = root.find("svg:title", NS)
    assert title is not None and title.text == "Plans closed by reason"
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-labelledby"] == title.attrib["id"] == "chart-closures"
    assert root.attrib["aria-describedby"] == "chart-closures-desc"
    assert desc(root) == "Outcomes met: 12. The family disengaged: 3. The family moved away: 6."


def test_a_zero_has_no_bar_but_its_figure_and_all_zeros_divide_by_nothing() -> None:
    root = parse(bar_chart_svg("Closures", [Bar("Outcomes met", 4, "4"), Bar("Moved away", 0, "0")], title_id="c"))
    assert widths(root) == [BAR_RIGHT - BAR_LEFT]
    assert "Moved away: 0." in desc(root)

    nothing = parse(bar_chart_svg("Closures", [Bar("Outcomes met", 0, "0"), Bar("Moved away", 0, "0")], title_id="c"))
    assert widths(nothing) == []
    assert texts(nothing) == ["Outcomes met", "0", "Moved away", "0"]


def test_no_data_says_so_in_the_drawing_and_the_desc() -> None:
    root = parse(bar_chart_svg("Closures", [], title_id="c"))
    assert texts(root) == ["Nothing to count in this period."]
    assert desc(root) == "Nothing to count in this period."
    assert widths(root) == []


def test_negative_values_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        bar_chart_svg("Closures", [Bar("Outcomes met", -1, "-1")], title_id="c")


def test_long_labels_are_shortened_in_the_drawing_but_read_out_whole() -> None:
    label = "Stepped up to children's social care after the family's circumstances changed"
    root = parse(bar_chart_svg("Closures", [Bar(label, 2, "2")], title_id="c"))
    shortened = texts(root)[0]
    assert shortened.endswith("…") and len(shortened) <= 36 and label.startswith(shortened[:-1])
    assert label in desc(root)


def test_labels_are_escaped_and_there_is_no_inline_style() -> None:
    label = '<script>alert("x")</script> & "more"'
    svg = bar_chart_svg(label, [Bar(label, 1, "1")], title_id='t"><script>')
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(".//svg:script", NS) is None and root.find(".//svg:style", NS) is None
    assert [element.tag for element in root.iter() if "style" in element.attrib] == []
    assert root.attrib["aria-labelledby"] == 't"><script>'
    assert f"{label}: 1." in desc(root)


def test_the_same_bars_give_the_same_string() -> None:
    assert bar_chart_svg("Closures", CLOSURES, title_id="c") == bar_chart_svg("Closures", list(CLOSURES), title_id="c")
