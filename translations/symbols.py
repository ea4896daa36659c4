"""Normalised currency codes: one name per asset whatever the venue calls it."""

from __future__ import annotations

ALIASES: dict[str, str] = {
    "XBT": "BTC",
    "XXBT": "BTC",
    "XETH": "ETH",
    "XXRP": "XRP",
    "XLTC": "LTC",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XZEC": "ZEC",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZCAD": "CAD",
    "ZCHF": "CHF",
    "BCHABC": "BCH",
    "BCC": "BCH",
}


def normalise(code: str, extra: dict[str, str] | None = None) -> str:
    """Upper-case a venue's code and map its aliases; `extra` holds a venue's
    own aliases (Bitfinex's UST is Tether, elsewhere it is not)."""
    code = code.upper()
    if extra and code in extra:
        return extra[code]
    return ALIASES.get(code, code)
