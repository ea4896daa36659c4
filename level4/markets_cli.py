"""`level4 add-markets`: every market a venue lists of one type (and quote), added to a
running service's catalogue and, with --enable, started: one request to its control API."""

from __future__ import annotations

import argparse
import os
import sys

import httpx
import orjson

from level4.catalogue.models import MARKET_TYPES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "add-markets",
        help="add every market a venue lists of one type (and quote) to a running service",
        description="e.g. `level4 add-markets BINANCE --type PERP --quote USDT --enable`",
    )
    p.add_argument("exchange", help="an exchange of the service's catalogue, e.g. BINANCE")
    p.add_argument("--type", required=True, choices=MARKET_TYPES, dest="market_type")
    p.add_argument("--quote", default="", help="only markets quoted in this currency (normalised, e.g. USDT)")
    p.add_argument("--enable", action="store_true", help="switch their feeds on too")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the service (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the answer")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    token = os.environ.get("LEVEL4_API_TOKEN", "").strip()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"market_type": args.market_type, "quote": args.quote or None, "enable": args.enable}
    body = {k: v for k, v in body.items() if v is not None}
    url = f"{args.url.rstrip('/')}/exchanges/{args.exchange}/markets"
    try:
        answer = httpx.post(url, json=body, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"level4 add-markets: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        print(f"level4 add-markets: HTTP {answer.status_code}: {detail}", file=sys.stderr)
        return 1
    result = answer.json()
    for failure in result["failed"]:
        print(f"level4 add-markets: {failure['symbol']} not added: {failure['reason']}", file=sys.stderr)
    for missing in result["unavailable"]:
        print(f"level4 add-markets: {missing['api']} list unavailable: {missing['reason']}", file=sys.stderr)
    summary = {k: len(v) if isinstance(v, list) else v for k, v in result.items() if k != "exchange"}
    sys.stdout.write(orjson.dumps({"exchange": result["exchange"], **summary}).decode() + "\n")
    return 0
