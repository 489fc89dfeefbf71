"""The investigator's pages in a real browser (Debian's chromium), on SQLite and PostgreSQL: the
clusters list, a cluster with its timeline, a pivot from a serial to its sellers, the seller
graph expanding one node, and the refusal of a reviewer."""

from __future__ import annotations

import pytest

from forensics.pipeline import analyse
from tests.conftest import RECEIPT_LINES, simple_receipt
from tests.web.conftest import ADMIN, login, screenshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain(served):  # noqa: ANN001, ANN201
    """A chain of sellers for the graph: S5 re-uploads S4's file, S6 re-uploads another file of S5's
    (S4 - S5 - S6; S4 and S6 share nothing)."""
    root = served.settings.blob_root_path
    simple_receipt([*RECEIPT_LINES[:2], "RECEIPT NO: QX00990011", *RECEIPT_LINES[4:8]], seed=31).save(root / "c7.png")
    for e in ({"evidence_id": "W5", "seller_id": "S5", "blob": "w4.png", "uploaded_at": "2024-05-05T10:00:00Z"},
              {"evidence_id": "W7", "seller_id": "S5", "blob": "c7.png", "uploaded_at": "2024-05-06T10:00:00Z"},
              {"evidence_id": "W6", "seller_id": "S6", "blob": "c7.png", "uploaded_at": "2024-05-07T10:00:00Z"}):
        if served.store.get(e["evidence_id"]) is None:
            analyse(e, served.store, served.settings)
    return served


def _shot(page, served, name: str) -> None:  # noqa: ANN001
    if served.backend == "sqlite":
        screenshot(page, name)


def test_clusters_list_cluster_timeline_and_serial_pivot(page, served):
    login(page, served, ADMIN, "/clusters?min_sellers=2")
    row = page.locator("tr[data-cluster]").first
    cid = row.get_attribute("data-cluster")
    assert row.locator("td").nth(3).inner_text() == "2"
    _shot(page, served, "clusters")
    row.locator("a").first.click()
    page.wait_for_url(f"**/clusters/{cid}")
    assert f"Cluster {cid}" in page.inner_text("h1")
    # the timeline: one lane per seller, an upload dot and a printed-date square on each
    lanes = page.locator("svg.timeline g.tl-row")
    assert sorted(lanes.nth(i).get_attribute("data-seller") for i in range(lanes.count())) == ["S1", "S2"]
    assert page.locator("svg.timeline circle.upload[data-evidence]").count() == 2
    assert page.locator("svg.timeline rect.printed").count() >= 2
    assert page.locator("figure.member img").count() == 2
    assert "total" in page.inner_text("table.differing").lower()
    _shot(page, served, "cluster")
    page.locator("figure.member a.serial").first.click()
    page.wait_for_url("**/serials/**")
    sellers = page.locator("table.sellers tr[data-seller]")
    assert [sellers.nth(i).get_attribute("data-seller") for i in range(sellers.count())] == ["S1", "S2"]
    _shot(page, served, "serial-pivot")
    page.locator("table.uploads a", has_text="W2").click()
    page.wait_for_url("**/evidence/W2")  # the pivot leads to the reviewer's evidence page


def test_graph_draws_the_links_and_expands_a_node(page, chain):
    served = chain
    login(page, served, ADMIN, "/graph")
    page.goto(f"{served.url}/graph?seed=S4&hops=1")
    nodes = page.locator("svg.graph a.node-link")
    assert sorted(nodes.nth(i).get_attribute("data-seller") for i in range(nodes.count())) == ["S4", "S5"]
    assert page.locator("svg.graph line.edge").count() == 1
    more = page.locator('svg.graph a.node-link[data-seller="S5"] circle.more')
    assert more.count() == 1  # S5 has a link not drawn (to S6)
    page.evaluate("window.__same_page = true")
    more.click()
    page.locator('svg.graph a.node-link[data-seller="S6"]').wait_for()
    assert page.locator("svg.graph line.edge").count() == 2
    assert "expand=S5" in page.url  # the expanded graph has its own address
    assert page.evaluate("window.__same_page === true")  # swapped in place by htmx, not reloaded
    _shot(page, served, "graph")


def test_a_reviewer_is_refused_the_investigator_pages(page, served):
    login(page, served)
    for path in ("/clusters", "/graph?seed=S1", "/serials/CS00012345", "/similar"):
        assert page.goto(served.url + path).status == 403, path


def test_similar_form_finds_the_uploads_like_a_file(page, served):
    login(page, served, ADMIN, "/similar")
    page.set_input_files("input[type=file]", str(served.settings.blob_root_path / "w1.png"))
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    found = page.inner_text("table.similar")
    assert "W1" in found and "W2" in found and "W4" not in found
    page.locator("table.similar a", has_text="W2").first.click()
    page.wait_for_url("**/evidence/W2")
