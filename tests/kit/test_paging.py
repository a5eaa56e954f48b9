"""Keyset paging: one row more than the page says whether another follows, and the `Link` names it."""

from starlette.responses import Response

from services.kit.paging import Page, link_next, page_of


def test_a_row_left_over_makes_the_last_row_s_key_the_cursor_of_the_next_page() -> None:
    assert page_of(["a", "b", "c"], 2, str.upper) == Page(["a", "b"], "B")
    assert page_of(["a", "b"], 2, str.upper) == Page(["a", "b"], None)
    assert page_of([], 2, str.upper) == Page([], None)


def test_the_next_page_is_linked_with_the_list_s_filters_and_the_last_page_is_not() -> None:
    response = Response()
    link_next(response, "/requests-for-support", Page(["x"], "id-1"), 1, {"status": "decided"})
    assert response.headers["Link"] == '</requests-for-support?status=decided&limit=1&after=id-1>; rel="next"'
    last = Response()
    link_next(last, "/plans/p/contacts", Page(["x"], None), 1)
    assert "Link" not in last.headers
