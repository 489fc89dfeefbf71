"""The reviewer's app in a real browser (Debian's chromium through Playwright), on SQLite and
PostgreSQL: logging in, the queue, boxes drawn on the page, side by side, decisions, security."""

from __future__ import annotations

import pytest
from PIL import Image

from forensics.store.people import People
from forensics.web.images import PAGE_WIDTH
from tests.web.conftest import ADMIN, REVIEWER, login, screenshot

pytestmark = pytest.mark.integration


def _shot(page, served, name: str) -> None:  # noqa: ANN001
    if served.backend == "sqlite":
        screenshot(page, name)


def test_login_wrong_password_and_missing_login_are_refused(page, served):
    page.goto(f"{served.url}/queue")
    assert page.url.startswith(f"{served.url}/login"), page.url  # no session: sent to the login form
    assert page.request.get(f"{served.url}/evidence/W1/pages/1.jpg").status == 401
    assert page.request.get(f"{served.url}/evidence/W1").status in (401, 200)  # redirected to login
    assert "Log in" in page.inner_text("h1")
    response = login(page, served, (REVIEWER[0], "not-the-password"))
    assert response.status == 401
    assert page.get_by_role("alert").inner_text() == "Wrong name or password."
    response = login(page, served)
    assert response.status == 200 and page.url == f"{served.url}/queue"
    assert REVIEWER[0] in page.inner_text("header")


def test_reviewer_is_refused_admin_pages_and_admin_is_not(page, served):
    login(page, served)
    for path in ("/admin/users", "/admin/allowlist", "/admin/audit"):
        response = page.goto(served.url + path)
        assert response.status == 403, path
    page.context.clear_cookies()
    login(page, served, ADMIN, "/admin/users")
    assert page.url.endswith("/admin/users")
    assert REVIEWER[0] in page.inner_text("table.users")


def test_queue_lists_flagged_uploads_first(page, served):
    login(page, served, next_path="/queue?review=any")
    rows = page.locator("tr.queue-row")
    ids = [rows.nth(i).get_attribute("data-evidence") for i in range(rows.count())]
    assert set(ids) >= {"W1", "W2", "W3", "W4"}
    verdicts = {i: served.store.get(i)["verdict"] for i in ids}
    flagged = [i for i in ids if verdicts[i] in ("review", "likely_forgery")]
    assert flagged and ids[: len(flagged)] == flagged, (ids, verdicts)
    risks = [served.store.get(i)["risk"] for i in ids]
    assert risks == sorted(risks, reverse=True)
    # the list carries no reading: W3's merchant line is not in it
    assert "MART" not in page.inner_text("table.queue")
    _shot(page, served, "queue")


def test_finding_box_is_drawn_over_its_place_and_toggles(page, served, web_blobs):
    root, _events = web_blobs
    record = served.store.get("W2")
    boxed = [f for f in record["findings"] if f.get("box")]
    assert boxed, record["findings"]
    login(page, served, next_path="/evidence/W2")
    page.wait_for_function("document.querySelector('img.page-image').complete")
    _shot(page, served, "evidence")
    width = Image.open(root / "w2.png").width
    scale = PAGE_WIDTH / width
    image = page.locator("img.page-image").first.bounding_box()
    for item in page.locator("li.finding[data-box]").all():
        if "amounts inconsistent" not in item.inner_text():
            continue
        dom_id = item.get_attribute("data-box")
        finding = next(f for f in boxed if f["message"] in item.inner_text())
        rect = page.locator(f'rect.box[data-id="{dom_id}"]').first
        # the rectangle's edges on screen (the middle of its stroke), in CSS pixels
        got = rect.evaluate("""r => { const b = r.getBBox(), m = r.getScreenCTM();
            return {x: m.e + b.x * m.a, y: m.f + b.y * m.d, width: b.width * m.a, height: b.height * m.d}; }""")
        x0, y0, x1, y1 = finding["box"]
        want = (image["x"] + x0 * scale, image["y"] + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale)
        assert got["x"] == pytest.approx(want[0], abs=2) and got["y"] == pytest.approx(want[1], abs=2)
        assert got["width"] == pytest.approx(want[2], abs=2) and got["height"] == pytest.approx(want[3], abs=2)
        item.hover()
        assert "lit" in (rect.get_attribute("class") or "")
        toggle = item.locator("input.box-toggle")
        toggle.uncheck()
        assert not rect.is_visible()
        toggle.check()
        assert rect.is_visible()
        break
    else:
        pytest.fail("no finding with a box in the list")


def test_side_by_side_shows_both_pages_with_their_differing_boxes(page, served):
    login(page, served, next_path="/evidence/W2")
    page.locator("a.compare-link", has_text="W1").first.click()
    page.wait_for_url("**/compare/W1**")
    figures = page.locator(".compare figure.page")
    assert figures.count() == 2
    assert [figures.nth(i).get_attribute("data-evidence") for i in range(2)] == ["W2", "W1"]
    for i in range(2):
        fig = figures.nth(i)
        assert fig.locator("img.page-image").evaluate("img => img.complete && img.naturalWidth > 0")
        assert fig.locator("rect.box.finding").count() >= 1
        assert fig.locator('rect.box.field[data-id="field-serial"]').count() == 1
    over = page.locator("#swipe-over")
    page.locator("#swipe").fill("80")
    assert "80%" in over.evaluate("el => el.style.clipPath")
    _shot(page, served, "side-by-side")


def test_decision_shows_in_history_with_one_audit_row_and_next_goes_on(page, served):
    login(page, served, next_path="/evidence/W4")
    page.check("input[name=status][value=needs_more_information]")
    page.select_option("select[name=reason]", "ask_seller")
    page.fill("textarea[name=comment]", "Asked the seller for the original")
    with page.expect_navigation():
        page.click("button[name=then][value=stay]")
    history = page.inner_text("ol.history")
    assert "decided needs_more_information, reason ask_seller" in history
    assert "Asked the seller for the original" in history
    rows = [a for a in People(served.store).audit_rows(object_type="evidence", object_id="W4")
            if a["action"] == "decide"]
    assert len(rows) == 1 and rows[0]["actor"] == REVIEWER[0] and rows[0]["role"] == "reviewer"
    assert rows[0]["after"]["status"] == "needs_more_information" and rows[0]["request_id"]
    record = served.store.get("W4")
    assert record["review"]["status"] == "needs_more_information"
    assert record["verdict"] == "clean"  # the machine's verdict is untouched
    # "decide, then next" moves on to another upload of the queue
    page.check("input[name=status][value=legitimate]")
    page.select_option("select[name=reason]", "verified_with_shop")
    with page.expect_navigation():
        page.click("button[name=then][value=next]")
    assert "/evidence/W4" not in page.url and ("/evidence/" in page.url or page.url.endswith("/queue"))


def test_post_without_csrf_token_is_refused(page, served):
    login(page, served)
    response = page.request.post(f"{served.url}/evidence/W3/decision",
                                 form={"status": "legitimate", "reason": "other"})
    assert response.status == 403
    assert served.store.get("W3")["review"] is None


def test_markup_read_off_a_receipt_renders_inert(page, served):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, served, next_path="/evidence/W3")
    merchant = served.store.get("W3")["fields"]["merchant"]["value"]
    assert "</script>" in merchant  # the markup really was read (else this test proves nothing)
    assert "</script>" in page.inner_text("table.fields")
    assert page.locator("script").count() == 2  # htmx and app.js only
    assert dialogs == []


def test_pages_send_a_content_security_policy_and_break_none_of_it(page, served):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, served)
    response = page.goto(f"{served.url}/evidence/W1")
    page.wait_for_load_state("networkidle")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    page.goto(f"{served.url}/evidence/W2/compare/W1")
    page.wait_for_load_state("networkidle")
    # a CSP violation (an inline script or style) or a missing file shows as a console error
    assert errors == []


def test_screenshots_of_failures_are_configured(pytestconfig):
    assert pytestconfig.getoption("--screenshot") == "only-on-failure"
