"""The dashboard in a real browser, against the whole service fed by two
simulated venues over real sockets: the page asks for the token, shows the
markets go live, shows a market's top of book, depth, ladder and trades,
merges the pair's consolidated book by venue, and switches a feed off and
on. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from level4.net import venue_limiter
from tests.dashboard.browser import ARTIFACTS, chromium
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

TOKEN = "dash-board-7c1e"
WAIT_MS = 15_000


def test_dashboard_follows_live_markets_and_switches_feeds(tmp_path: Path) -> None:
    from playwright.sync_api import expect  # after chromium() has skipped when absent

    # The venues' windows are the process's: earlier tests' connects (Kraken's window is ten
    # minutes long) would count in this page's figures.
    venue_limiter.reset()
    with ExitStack() as stack:
        stack.callback(venue_limiter.reset)
        session = stack.enter_context(chromium(tmp_path / "profile"))
        sims = {
            venue: stack.enter_context(SimulatorThread(venue.lower(), ["BTC-USD"], rate=150, seed=seed))
            for venue, seed in (("COINBASE", 3), ("KRAKEN", 5))
        }
        _service, base = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", api_token=TOKEN))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}))
        markets: dict[str, dict[str, Any]] = {
            venue: add_market(api, venue, sim, "BTC", "USD") for venue, sim in sims.items()
        }
        coinbase, kraken = markets["COINBASE"], markets["KRAKEN"]
        page = session.page

        page.goto(f"{base}/")
        # /stream needs the token: the page asks for it
        expect(page.locator("#token-dialog")).to_be_visible(timeout=WAIT_MS)
        page.fill("#token-input", TOKEN)
        page.click("#token-ok")
        expect(page.locator("#stream-state")).to_have_attribute("data-state", "live", timeout=WAIT_MS)

        rows = {m["id"]: page.locator(f'#markets tr[data-market-id="{m["id"]}"]') for m in (coinbase, kraken)}
        for market in (coinbase, kraken):
            row = rows[market["id"]]
            expect(row.locator(".tag")).to_have_text(market["tag"])
            expect(row.locator(".status")).to_have_text("live", timeout=WAIT_MS)
            # frames keep coming: a rate above zero, a feed age under a few seconds
            expect(row.locator(".rate")).to_have_text(re.compile(r"^[1-9][\d,.]*$|^0\.[1-9]"), timeout=WAIT_MS)
            expect(row.locator(".age")).to_have_text(re.compile(r"^\d+ ms$|^\d\.\d s$"), timeout=WAIT_MS)
            expect(row.locator(".resyncs")).to_have_text("0")
            # each venue's markets share its connections: the row names the one it rides on
            venue = market["tag"].split(".")[0]
            expect(row.locator(".connection")).to_have_text(re.compile(r"^#\d+$"), timeout=WAIT_MS)
            expect(row.locator(".connection")).to_have_attribute("title", re.compile(rf"{venue}#\d+$"))
        expect(page.locator("#summary")).to_contain_text("2 venue connections", timeout=WAIT_MS)

        # the Venues panel: each venue's connection with its markets against its cap, and its limits
        venues = {v["venue"]: v for v in api.get("/venues").json() if not v["api"] and not v["egress"]}
        for market in (coinbase, kraken):
            venue = market["tag"].split(".")[0]
            block = page.locator(f'#venues .venue-block[data-venue="{venue}"]')
            expect(block.locator(".conn-count")).to_have_text("1 connection · 1 market", timeout=WAIT_MS)
            (conn,) = venues[venue]["connections"]
            row = block.locator(f'tr.conn[data-connection="{conn["name"]}"]')
            expect(row.locator(".state")).to_have_text("open")
            expect(row.locator(".subs")).to_have_text(f"1 / {conn['cap']}")
            limit = venues[venue]["limiter"]["connect"]["limit"]
            connects = block.locator('tr.limit[data-kind="connect"]')
            # used of the limit in its window (Coinbase's is a second long: the attempt may have left it)
            expect(connects.locator(".figure")).to_have_text(re.compile(rf"^[01] / {limit:,}$"))
            expect(connects).to_have_attribute("data-queued", "0")
            expect(block.locator('tr.limit[data-kind="send"]')).to_have_attribute("data-used", re.compile(r"^\d"))
            expect(block.locator('tr.limit[data-kind="rest"]')).to_have_attribute("data-limit", re.compile(r"^[1-9]"))
            expect(block.locator(".backoff")).to_have_count(0)
        expect(page.locator("#venues-empty")).to_be_hidden()

        # one market, live, at its own address
        rows[coinbase["id"]].click()
        expect(page).to_have_url(f"{base}/#market={coinbase['id']}")
        expect(page.locator("#market-title")).to_contain_text(coinbase["tag"])
        expect(page.locator("#top-bid")).to_have_text(re.compile(r"^\d+(\.\d+)?$"), timeout=WAIT_MS)
        expect(page.locator("#top-ask")).to_have_text(re.compile(r"^\d+(\.\d+)?$"), timeout=WAIT_MS)
        expect(page.locator("#top-spread")).to_have_text(re.compile(r"^\d"), timeout=WAIT_MS)
        expect(page.locator("#book-state")).to_contain_text("synchronised · sequence", timeout=WAIT_MS)
        expect(page.locator("#depth")).to_have_attribute("data-levels", re.compile(r"^[1-9]\d*$"), timeout=WAIT_MS)
        expect(page.locator("#ladder tr.bid")).to_have_count(12, timeout=WAIT_MS)
        expect(page.locator("#ladder tr.ask")).to_have_count(12, timeout=WAIT_MS)
        wait_for(lambda: page.locator("#tape tbody tr").count() > 0, timeout=15, what="trades on the tape")
        # frozen venue: the page's book, kept from snapshot and deltas, is the service's to the level
        sims["COINBASE"].pause()
        ladder = (
            "side => [...document.querySelectorAll(`#ladder tr.${side}`)]"
            ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])"
        )

        def same_as_service() -> bool:
            book = api.get(f"/markets/{coinbase['id']}/book", params={"depth": 12}).json()
            top = api.get(f"/markets/{coinbase['id']}/top").json()
            shown = {side: page.evaluate(f"({ladder})('{side[:-1]}')") for side in ("bids", "asks")}
            return (
                shown["bids"] == [lv[:2] for lv in book["bids"]]
                and shown["asks"] == [lv[:2] for lv in reversed(book["asks"])]
                and page.locator("#top-bid").text_content() == top["bid"][0]
                and page.locator("#top-ask").text_content() == top["ask"][0]
                and page.locator("#top-spread").text_content() == top["spread"]
            )

        wait_for(same_as_service, timeout=15, what="the page's book and top == the service's")
        sims["COINBASE"].resume()

        # the consolidated book of BTC-USD: both venues, each in its colour
        expect(page.locator("#pair")).to_have_value("BTC-USD", timeout=WAIT_MS)
        for market in (coinbase, kraken):
            expect(page.locator(f'#legend .venue[data-market="{market["tag"]}"]')).to_be_visible(timeout=WAIT_MS)
            expect(page.locator(f'#cbook .part[data-market="{market["tag"]}"]').first).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#consolidated-top")).to_contain_text("best bid", timeout=WAIT_MS)
        # read in one step: the legend is drawn anew with each book, and a swatch replaced
        # between finding it and reading it would have no style
        swatch_colour = (
            "tag => getComputedStyle(document.querySelector(`#legend .venue[data-market='${tag}'] .swatch`))"
            ".backgroundColor"
        )
        colours = {market["tag"]: page.evaluate(swatch_colour, market["tag"]) for market in (coinbase, kraken)}
        assert len(set(colours.values())) == 2, colours

        # the header's top of book is the ladder's, drawn from the same update, while the venues move
        header_and_rows = """() => {
            const level = (tr) => tr && `${tr.cells[1].textContent} @ ${tr.cells[0].textContent}`;
            const bids = document.querySelectorAll('#cbook tr.bid');
            const asks = document.querySelectorAll('#cbook tr.ask');
            const header = document.querySelector('#consolidated-top').textContent;
            return [header, level(bids[0]), level(asks[asks.length - 1])];
        }"""
        header_line = re.compile(r"^best bid (\S+ @ \S+) \(.*\) · best ask (\S+ @ \S+) \(.*\)$")
        for _ in range(30):
            header, best_bid_row, best_ask_row = page.evaluate(header_and_rows)
            shown = header_line.match(header)
            assert shown and shown.groups() == (best_bid_row, best_ask_row), (header, best_bid_row, best_ask_row)
            page.wait_for_timeout(100)

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # another market, then back and back again: the address says which, the view follows
        rows[kraken["id"]].locator(".tag a").click()
        expect(page).to_have_url(f"{base}/#market={kraken['id']}")
        expect(page.locator("#market-title")).to_contain_text(kraken["tag"])
        expect(rows[kraken["id"]]).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator("#book-state")).to_contain_text("synchronised · sequence", timeout=WAIT_MS)
        page.go_back()
        expect(page).to_have_url(f"{base}/#market={coinbase['id']}")
        expect(page.locator("#market-title")).to_contain_text(coinbase["tag"])
        expect(rows[coinbase["id"]]).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator("#ladder tr.bid")).to_have_count(12, timeout=WAIT_MS)
        page.go_back()
        expect(page).to_have_url(f"{base}/")
        expect(page.locator("#market-title")).to_have_text("Click a market")
        expect(page.locator("#market-body")).to_be_hidden()
        expect(page.locator("#markets tr.selected")).to_have_count(0)
        # a market's address opened directly (a bookmark, a link): that market, live
        page.goto(f"{base}/#market={kraken['id']}")
        page.reload()
        expect(page.locator("#market-title")).to_contain_text(kraken["tag"], timeout=WAIT_MS)
        expect(rows[kraken["id"]]).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator("#book-state")).to_contain_text("synchronised · sequence", timeout=WAIT_MS)
        expect(page.locator("#ladder tr.ask")).to_have_count(12, timeout=WAIT_MS)
        page.goto(f"{base}/#market=9999")
        expect(page.locator("#market-title")).to_have_text("No market #9999 in the catalogue")
        expect(page.locator("#market-body")).to_be_hidden()
        page.go_back()
        expect(page.locator("#market-title")).to_contain_text(kraken["tag"])

        # switch Coinbase's feed off and on again from the page (the token goes as a bearer)
        toggle = rows[coinbase["id"]].locator(".toggle")
        expect(toggle).to_have_text("switch off")
        toggle.click()
        expect(rows[coinbase["id"]].locator(".status")).to_have_text("stopped", timeout=WAIT_MS)
        expect(toggle).to_have_text("switch on", timeout=WAIT_MS)
        assert api.get(f"/markets/{coinbase['id']}").json()["level4_feed_enabled"] is False
        expect(page.locator("#excluded")).to_contain_text(coinbase["tag"], timeout=WAIT_MS)
        expect(page.locator("#token-dialog")).to_be_hidden()
        toggle.click()
        expect(rows[coinbase["id"]].locator(".status")).to_have_text("live", timeout=WAIT_MS)
        assert api.get(f"/markets/{coinbase['id']}").json()["level4_feed_enabled"] is True
        expect(page.locator("#excluded")).to_have_text("", timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "dashboard-after-toggle.png"), full_page=True)

        # crossed venues are marked: a consolidated book where Kraken bids above Coinbase's ask
        a, b = coinbase["tag"], kraken["tag"]
        crossed_book = {
            "pair": "BTC-USD",
            "market_type": "SPOT",
            "quotes": ["USD"],
            "depth": 12,
            "markets": [{"id": coinbase["id"], "market": a}, {"id": kraken["id"], "market": b}],
            "excluded": [],
            "best_bid": {"price": "100.6", "size": "2", "venues": {b: "2"}},
            "best_ask": {"price": "100.4", "size": "1", "venues": {a: "1"}},
            "crossed": True,
            "crossings": [{"bid_market": b, "bid": "100.6", "ask_market": a, "ask": "100.4"}],
            "bids": [
                {"price": "100.6", "size": "2", "venues": {b: "2"}},
                {"price": "100.3", "size": "3", "venues": {a: "1", b: "2"}},
            ],
            "asks": [
                {"price": "100.4", "size": "1", "venues": {a: "1"}},
                {"price": "100.7", "size": "4", "venues": {a: "1.5", b: "2.5"}},
            ],
        }
        page.route("**/books/BTC-USD?*", lambda route: route.fulfill(json=crossed_book))
        expect(page.locator("#crossings")).to_contain_text(f"{b} bids 100.6 ≥ {a} asks 100.4", timeout=WAIT_MS)
        # the header from the same book as the rows, not from the live stream beside it
        expect(page.locator("#consolidated-top")).to_have_text(
            "best bid 2 @ 100.6 (KRAKEN) · best ask 1 @ 100.4 (COINBASE)"
        )
        expect(page.locator("#crossed-flag")).to_be_visible()
        crossed_rows = page.locator("#cbook tr.crossed .price")
        expect(crossed_rows).to_have_text(
            ["100.4", "100.6"], timeout=WAIT_MS
        )  # the ask at or below 100.6, the bid at or above 100.4
        expect(page.locator("#cbook tr:not(.crossed) .price")).to_have_text(["100.7", "100.3"])
        page.screenshot(path=str(ARTIFACTS / "dashboard-crossed.png"), full_page=True)

        # a venue that refused: the backoff with its reason and time left, a limit nearly reached, callers queued
        window = {"used": 5, "limit": 300, "window_seconds": 300, "left": 295, "queued": 0}
        refused = {
            "venue": "BINANCE",
            "api": "usdm",
            "egress": "",
            "connections": [
                {
                    "name": "BINANCE#3",
                    "url": "wss://fstream.binance.com/ws",
                    "shared": True,
                    "state": "connecting",
                    "subscriptions": 180,
                    "subscribed": 0,
                    "cap": 200,
                    "resubscribes": 0,
                },
                {
                    "name": "BINANCE#4",
                    "url": "wss://fstream.binance.com/ws",
                    "shared": True,
                    "state": "open",
                    "subscriptions": 20,
                    "subscribed": 20,
                    "cap": 200,
                    "resubscribes": 2,
                },
            ],
            "limiter": {
                "connect": window,
                "send": {**window, "used": 2, "limit": 10, "window_seconds": 1, "left": 8, "connections": 2},
                "rest": {"used": 2350, "limit": 2400, "window_seconds": 60, "left": 50, "queued": 17},
                "backoff": {"seconds": 42.5, "until": 1.9e9, "reason": "HTTP 429 from /fapi/v1/depth"},
                "totals": {"connects": 5, "refusals": 1},
            },
        }
        page.route("**/venues", lambda route: route.fulfill(json=[refused]))
        block = page.locator('#venues .venue-block[data-venue="BINANCE"][data-api="usdm"]')
        expect(block.locator("h3 .venue-name")).to_have_text("BINANCE/usdm", timeout=WAIT_MS)
        expect(block.locator(".backoff")).to_have_text("backing off, 42.5 s left: HTTP 429 from /fapi/v1/depth")
        rest = block.locator('tr.limit[data-kind="rest"]')
        expect(rest).to_have_class(re.compile(r"\bnear\b"))
        expect(rest).to_contain_text("17 queued")
        expect(block.locator('tr.limit[data-kind="connect"]')).not_to_have_class(re.compile(r"\bnear\b"))
        expect(block.locator("tr.conn .subs")).to_have_text(["180 / 200", "20 / 200"])
        expect(block.locator('tr.conn[data-connection="BINANCE#3"] .state')).to_have_text("connecting")
        expect(page.locator("#venues .venue-block")).to_have_count(1)  # the answer's venues, no others
        page.screenshot(path=str(ARTIFACTS / "dashboard-venues.png"), full_page=True)

        assert session.errors == []
        origin = base.split("://", 1)[1]
        strangers = [url for url in session.requests if url.split("://", 1)[1].split("/", 1)[0] != origin]
        assert strangers == [], "everything the page needs comes from the service itself"
