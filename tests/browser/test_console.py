"""The clinician console in Chromium against the real stack: the four services as processes, the
demo network sent through intake and scored, the console's build served by a gateway that signs
people in through the dev issuer's page. What a page shows is compared with what the API answers;
every page visited requests nothing off this machine, breaks no CSP rule and has no serious axe
finding. The run leaves screenshots (docs/console.md#screenshots) and prints the caseload's time
and the entry script's size."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, Response, expect

from alliance_devstack.processes import ServiceProcess
from tests.browser.browsing import SCREENSHOTS, BrowserPage, sign_in
from tests.browser.console_stack import (
    CASE,
    CONSOLE_DIST,
    KIND_LABEL,
    Api,
    Demo,
    entry_script_sizes,
    js_number,
    supervisor_api,
)
from tests.conftest import eventually
from tests.signin import DevIssuerEndpoint

NOT_RATED = "\u2013"  # the en dash a table shows for a session without a rating
LIVE = 30_000  # ms: a command's change reaches the page through the alerts service and Kafka


async def assert_clean(browser_page: BrowserPage) -> None:
    """The page as it is now: nothing requested off loopback, no CSP violation, no serious or
    critical axe finding."""
    assert browser_page.left_loopback() == []
    assert await browser_page.csp_violations() == []
    assert await browser_page.serious_accessibility_violations() == []


async def go(page: Page, path: str) -> None:
    """A navigation inside the console (as its links do: history API, token kept in memory)."""
    await page.evaluate(
        "(path) => { history.pushState(null, '', path);"
        " dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )


async def open_console(page: Page, console_url: str, issuer: DevIssuerEndpoint, who: str) -> None:
    """A first visit: the console offers to sign in; its button leads to the issuer's page."""
    await page.goto(f"{console_url}/console/")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await sign_in(page, issuer.url, who)


def therapist_of(demo: Demo, case_id: str) -> str:
    return next(c.therapist_id for c in demo.network.cases if c.case_id == case_id)


def totals(case: dict[str, Any], role: str, instrument: str) -> dict[str, str]:
    """Session -> total, as the page prints it, of the case's dyad of `role` on `instrument`."""
    dyads = [d for d in case["dyads"] if d["respondentRole"] == role]
    assert len(dyads) == 1, dyads
    return {
        str(score["sessionNumber"]): js_number(score["total"])
        for score in dyads[0]["timeline"]
        if score["instrument"] == instrument
    }


async def chart_table(page: Page, title: str) -> tuple[list[str], list[list[str]]]:
    """The chart's table alternative, opened: its column headers and its rows' cells."""
    chart = page.locator("section.chart", has=page.get_by_role("heading", name=title, exact=True))
    await chart.get_by_text(f"Table of {title}", exact=True).click()
    table = chart.locator("details table")
    await table.wait_for()
    headers = await table.locator("thead th").all_inner_texts()
    rows = [
        await row.locator("th, td").all_inner_texts()
        for row in await table.locator("tbody tr").all()
    ]
    return headers, rows


def split_case(demo: Demo) -> str:
    return demo.first("a split alliance", lambda c: any(s["active"] for s in c["splits"]))


async def test_a_clinician_sees_the_split_case_and_an_acknowledgement_arrives_live(
    browser_page: BrowserPage,
    console_url: str,
    dev_issuer: DevIssuerEndpoint,
    demo: Demo,
    services: dict[str, ServiceProcess],
) -> None:
    page = browser_page.page
    split = split_case(demo)
    clinic, therapist = demo.clinic_of(split), therapist_of(demo, split)
    api = Api.of(services["gateway"].url, "clinician", [clinic], therapist)
    caseload = await api.caseload(clinic)
    assert split in caseload

    # Caseload: the clinician's own cases, with a badge per open (or acknowledged) alert.
    await open_console(page, console_url, dev_issuer, therapist)
    rows = page.locator("table.caseload tbody tr")
    await rows.first.wait_for()
    since_navigation = await page.evaluate("performance.now()")
    entry, size, gzipped = entry_script_sizes(CONSOLE_DIST)
    print(
        f"\ncaseload of {clinic} ({len(caseload)} cases) rendered {since_navigation:.0f} ms after "
        f"the navigation back from the issuer; console entry {entry}: {size / 1000:.1f} kB, "
        f"{gzipped / 1000:.1f} kB gzip"
    )
    await expect(page.get_by_role("heading", name=f"Caseload of {clinic}")).to_be_visible()
    await expect(page.locator("table.caseload caption")).to_contain_text(
        f"{len(caseload)} case{'' if len(caseload) == 1 else 's'} on this page"
    )
    shown_cases = await page.locator("table.caseload tbody th").all_inner_texts()
    assert sorted(shown_cases) == sorted(caseload)
    alerts = [*await api.alerts(clinic, "OPEN"), *await api.alerts(clinic, "ACKNOWLEDGED")]
    assert any(a["caseId"] == split for a in alerts)
    active = await api.active_alerts(clinic)
    for case_id in caseload:
        # The case's own active alerts, the same as the clinic's alert lists have of it.
        assert sorted(a["alertId"] for a in active[case_id]) == sorted(
            a["alertId"] for a in alerts if a["caseId"] == case_id
        ), case_id
        badges = page.get_by_role("list", name=f"Open alerts of {case_id}").locator("li")
        expected = [KIND_LABEL[a["kind"]] for a in active[case_id]]
        assert await badges.all_inner_texts() == expected, case_id
    await assert_clean(browser_page)
    await browser_page.screenshot("console-caseload")

    # The split case: the child's and the parent's series on one chart, and the split band.
    await page.get_by_role("link", name=split, exact=True).click()
    await expect(page.get_by_role("heading", name=f"Case {split}")).to_be_visible()
    title = "Session alliance (SRS, child CSRS)"
    chart = page.locator("section.chart", has=page.get_by_role("heading", name=title, exact=True))
    await expect(chart.locator(".u-legend")).to_contain_text("Client · CSRS")
    await expect(chart.locator(".u-legend")).to_contain_text("Parent · SRS")
    headers, table = await chart_table(page, title)
    found = demo.cases[split]
    for role, instrument in (("CLIENT", "CSRS"), ("PARENT", "SRS")):
        label = f"{role.title()} · {instrument}"
        column = headers.index(label)
        shown = {row[0]: row[column] for row in table if row[column] != NOT_RATED}
        assert shown == totals(found, role, instrument), label
    assert any(row[-1].endswith("split alliance") for row in table)
    await expect(chart.locator(".key-split")).to_have_text(re.compile("split alliance"))
    await expect(page.locator("dl.facts dt", has_text="Split alliance")).to_be_visible()
    await expect(page.locator("dl.facts dd", has_text="Active: parent minus child")).to_be_visible()
    await assert_clean(browser_page)
    await browser_page.screenshot("console-case-split")

    # The inbox: an acknowledgement's change arrives through the subscription, no reload.
    await page.get_by_role("link", name="Alerts", exact=True).click()
    await expect(page.get_by_role("heading", name=f"Alerts in {clinic}")).to_be_visible()
    await expect(page.get_by_text("Live: changes appear as they happen.")).to_be_visible()
    card = page.locator("article.alert").filter(has=page.get_by_role("button", name="Acknowledge"))
    await expect(page.locator("ul.alerts > li").first).to_be_visible()
    # Two lists, each the API's page of its status, newest first; no "More" when none follow.
    for listed, heading in (("OPEN", "Open"), ("ACKNOWLEDGED", "Acknowledged")):
        section = page.get_by_role("region", name=heading, exact=True)
        await expect(section.locator("p.shown")).to_be_visible()
        shown = await section.locator("article.alert").evaluate_all(
            "cards => cards.map((card) => card.getAttribute('aria-labelledby').slice(6))"
        )
        assert shown == [a["alertId"] for a in alerts if a["status"] == listed], listed
        more = section.get_by_role("button", name=f"More {heading.lower()} alerts")
        await expect(more).to_have_count(0)  # the demo's lists fit in one page of 50
    assert await card.count() > 0, "no open alert left: earlier runs acknowledged them; reset"
    first = card.first
    alert_id = (await first.get_attribute("aria-labelledby") or "").removeprefix("alert-")
    assert alert_id in {a["alertId"] for a in alerts if a["status"] == "OPEN"}
    status = page.locator(f'article[aria-labelledby="alert-{alert_id}"] [data-testid=alert-status]')
    await expect(status).to_have_text(re.compile("^Open"))
    await page.evaluate("window.__sameDocument = true")
    # Every announcement, not only the last: another notice (an escalation due meanwhile) may
    # follow the acknowledgement's and take the live region's text.
    await page.get_by_test_id("alert-announcement").evaluate(
        """(region) => {
          window.__announced = [];
          new MutationObserver(() => window.__announced.push(region.textContent)).observe(
            region, { childList: true, characterData: true, subtree: true });
        }"""
    )
    await first.get_by_role("button", name="Acknowledge").click()
    await expect(status).to_have_text(re.compile("^Acknowledged"), timeout=LIVE)
    await page.wait_for_function(
        "window.__announced.some((text) => text.includes('now Acknowledged'))", timeout=LIVE
    )
    assert await page.evaluate("window.__sameDocument === true")  # not reloaded
    await eventually(lambda: acknowledged(api, clinic, alert_id), within=LIVE / 1000)
    await assert_clean(browser_page)
    await browser_page.screenshot("console-inbox")
    for name in ("console-caseload", "console-case-split", "console-inbox"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


async def acknowledged(api: Api, clinic: str, alert_id: str) -> bool:
    return alert_id in {a["alertId"] for a in await api.alerts(clinic, "ACKNOWLEDGED")}


async def test_a_clinician_cannot_open_another_clinics_case_by_its_url(
    browser_page: BrowserPage,
    console_url: str,
    dev_issuer: DevIssuerEndpoint,
    demo: Demo,
    services: dict[str, ServiceProcess],
) -> None:
    page = browser_page.page
    split = split_case(demo)
    clinic, therapist = demo.clinic_of(split), therapist_of(demo, split)
    other = demo.first("another clinic's case", lambda c: demo.clinic_of(c["caseId"]) != clinic)
    other_clinic, theirs = demo.clinic_of(other), demo.cases[other]
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/graphql") else None)

    await open_console(page, console_url, dev_issuer, therapist)
    await page.locator("table.caseload tbody tr").first.wait_for()
    # The address edited to the other clinic's case: the console signs in again (the token is
    # in memory only), then asks the gateway for that case.
    for path in (f"clinics/{other_clinic}/cases/{other}", f"clinics/{clinic}/cases/{other}"):
        answers.clear()
        await page.goto(f"{console_url}/console/{path}")
        await sign_in(page, dev_issuer.url, therapist)
        await expect(page.get_by_role("heading", name="Case not found")).to_be_visible()
        assert page.url == f"{console_url}/console/{path}"
        cases = [body["data"] for body in [await a.json() for a in answers] if body.get("data")]
        assert cases == [{"case": None}]  # the gateway's answer to the page: no data
        text = await page.locator("body").inner_text()
        # Its therapist, respondents and scores (those a page could not show by chance).
        shown = {therapist_of(demo, other), *(d["respondentId"] or "" for d in theirs["dyads"])}
        shown |= {js_number(s["total"]) for d in theirs["dyads"] for s in d["timeline"]}
        distinct = {value for value in shown - {other} if "." in value or "-" in value}
        assert [value for value in distinct if value in text] == []
        assert "Session alliance" not in text
        await assert_clean(browser_page)
    await browser_page.screenshot("console-not-found")
    # The API says the same to the clinician's token.
    api = Api.of(services["gateway"].url, "clinician", [clinic], therapist)
    body = await api.answer(CASE, clinicId=other_clinic, caseId=other)
    assert (body.get("data") or {}).get("case") is None


async def test_the_caseloads_alert_kind_filter_shows_the_apis_cases_of_that_kind(
    browser_page: BrowserPage,
    console_url: str,
    dev_issuer: DevIssuerEndpoint,
    demo: Demo,
    services: dict[str, ServiceProcess],
) -> None:
    """A supervisor filters the caseload by each alert kind: the page lists exactly the cases the
    API gives for `openAlertKind` (the filter is the query's, not the page's), which are exactly
    the cases with an open or acknowledged alert of that kind."""
    page = browser_page.page
    api = supervisor_api(services["gateway"].url)
    await open_console(page, console_url, dev_issuer, "demo-supervisor")
    table = page.locator("table.caseload")
    await table.locator("tbody tr").first.wait_for()
    clinic = (await page.get_by_role("heading", level=1).inner_text()).removeprefix("Caseload of ")
    active = [*await api.alerts(clinic, "OPEN"), *await api.alerts(clinic, "ACKNOWLEDGED")]
    everyone = await api.caseload(clinic)
    filter_by_kind = page.get_by_role("combobox", name=re.compile("^Open alert"))
    kinds_seen = 0
    for kind, label in [*KIND_LABEL.items(), ("", "")]:  # every kind, then none again
        async with page.expect_response(lambda r: r.url.endswith("/graphql")) as answered:
            await filter_by_kind.select_option(kind)
        # The kind goes to the gateway (a variable of the query), from the first page.
        body = (await answered.value).request.post_data_json
        assert body is not None
        sent = body["variables"]
        assert (sent["openAlertKind"], sent["after"]) == (kind or None, None)
        await expect(table).to_have_attribute("aria-busy", "false")
        expected = await api.caseload(clinic, kind or None)
        shown = await table.locator("tbody th").all_inner_texts()
        assert shown == expected, kind
        if not kind:
            assert shown == everyone  # "Any or none": every case again
            continue
        assert set(expected) == {a["caseId"] for a in active if a["kind"] == kind}, kind
        for case_id in shown:  # each case shows a badge of the kind it matched
            badges = table.get_by_role("list", name=f"Open alerts of {case_id}").locator("li")
            assert label in await badges.all_inner_texts(), (kind, case_id)
        caption = f"{len(expected)} case{'' if len(expected) == 1 else 's'} on this page"
        await expect(table.locator("caption")).to_have_text(
            f"{caption} with an open {label} alert (page 1)"
        )
        assert len(expected) < len(everyone), kind  # the filter leaves cases out
        if expected and not kinds_seen:
            await assert_clean(browser_page)
            await browser_page.screenshot("console-caseload-filtered")
        kinds_seen += bool(expected)
    # The demo's clinics have alerts of several kinds, each on some of their cases only.
    assert kinds_seen >= 2


async def test_graphiql_renders_under_the_csp_from_the_gateway_alone(
    browser_page: BrowserPage, console_url: str
) -> None:
    """GET /graphql in a browser: the self-hosted GraphiQL, every byte from the gateway."""
    page = browser_page.page
    answer = await page.goto(f"{console_url}/graphql")
    assert answer is not None
    assert answer.status == 200
    assert "script-src 'self';" in answer.headers["content-security-policy"]
    await page.locator(".graphiql-container").wait_for()
    await expect(page.locator(".graphiql-query-editor, .graphiql-editor").first).to_be_visible()
    # GraphiQL is a developers' tool, not a clinician's page: axe is not asked here (upstream's
    # CodeMirror editors have unlabelled text areas and low-contrast gutters; docs/console.md).
    assert browser_page.left_loopback() == []
    assert await browser_page.csp_violations() == []
    await browser_page.screenshot("graphiql")


async def test_the_demo_patterns_show_on_their_cases(
    browser_page: BrowserPage, console_url: str, dev_issuer: DevIssuerEndpoint, demo: Demo
) -> None:
    """The issue's "Done when": a repaired rupture, an unrepaired one, a split, recovery and
    deterioration, each on the case whose API data shows it, as a supervisor of both clinics."""

    def rupture(status: str) -> Any:
        return lambda c: any(r["status"] == status for d in c["dyads"] for r in d["ruptures"])

    def outcome(kind: str) -> Any:
        return lambda c: any(o["outcomeClass"] == kind for o in c["outcomes"])

    page = browser_page.page
    await open_console(page, console_url, dev_issuer, "demo-supervisor")
    await page.locator("table.caseload tbody tr").first.wait_for()

    async def open_case(case_id: str) -> None:
        await go(page, f"/console/clinics/{demo.clinic_of(case_id)}/cases/{case_id}")
        await expect(page.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()
        await page.locator("section.chart").first.wait_for()

    for status, marker in (("REPAIRED", "repaired"), ("UNRESOLVED", "escalated")):
        await open_case(demo.first(f"a {status} rupture", rupture(status)))
        button = page.locator(f"button.marker-{marker}").first
        named = re.compile(f"^{marker} rupture: Rupture")
        await expect(button).to_have_attribute("aria-label", named)
        await button.click()  # the marker explains itself: the rule and its evidence
        explained = page.locator(".explain").filter(has_text="Rupture")
        await expect(explained.locator("dt", has_text="Rule").first).to_be_visible()
        await expect(explained.locator("dt", has_text="Source").first).to_be_visible()
        await assert_clean(browser_page)

    await open_case(split_case(demo))
    await expect(page.locator(".key-split").first).to_be_visible()
    await expect(page.locator("dl.facts dd", has_text="Active: parent minus child")).to_be_visible()
    await assert_clean(browser_page)

    for kind, label in (("RECOVERED", "Recovered"), ("DETERIORATED", "Deteriorated")):
        await open_case(demo.first(f"an outcome {kind}", outcome(kind)))
        caption = page.locator("caption", has_text="Outcomes against intake")
        outcomes = page.locator("table", has=caption)
        await expect(outcomes.locator("tbody td", has_text=label).first).to_be_visible()
        await assert_clean(browser_page)
