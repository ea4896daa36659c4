"""The resync policy: what happens when a book is no longer good.

Schemes and the books only report a loss (a `Lost` instruction from the
scheme; a refused level or a checksum mismatch from the books, which the
scheme or the translator turns into one; a disconnect from the connection).
This module alone decides the remedy, from the kind of loss and from what
the venue supports (its scheme's `remedies`), so a change of policy for
every venue is a change here:

- a loss confined to one market (gap, checksum mismatch, unreadable book
  frame) is repaired on the same connection when the venue allows it: that
  market's subscription renewed (its other markets and its trades carry on),
  else its REST snapshot fetched again, else the connection renewed;
- a venue that refuses (a subscription refused, a REST snapshot that cannot
  be had) is asked again only after the reconnect backoff;
- a connection that is gone, a stalled feed, a level that is no number or a
  scheme that raised renews the connection (its state is not to be trusted,
  or there is nothing left to repair on it).

In every case the book is cleared first (Desync): it is not served as
synchronised until a new snapshot makes it whole again. How long to wait
before a renewed connection is the backoff's (level4.net.backoff): at once
after a synchronised connection was cut, growing while a market fails to
connect or to synchronise.
"""

from __future__ import annotations

from typing import Any

from translations.protocol import Desync, Instruction, Loss, Lost, Reconnect, Remedy, Scheme, Send

# Losses of one market's book that the connection can carry on through.
_ONE_MARKET = frozenset({Loss.GAP, Loss.CHECKSUM, Loss.MALFORMED})
# The venue said no: asking again at once would hammer it.
_REFUSED = frozenset({Loss.VENUE_ERROR, Loss.SNAPSHOT_FAILED})
# The connection has already ended (or is ending): it renews itself.
_ENDED = frozenset({Loss.DISCONNECT, Loss.STALE})

# Tried in this order for a one-market loss; the first the venue supports wins.
_GENTLEST_FIRST = (Remedy.RESUBSCRIBE, Remedy.REFETCH)


def choose(kind: Loss, supported: frozenset[Remedy]) -> Remedy:
    """The remedy for a loss of this kind on a venue supporting these remedies."""
    if kind in _ONE_MARKET:
        for remedy in _GENTLEST_FIRST:
            if remedy in supported:
                return remedy
        return Remedy.RENEW
    if kind in _REFUSED:
        return Remedy.BACK_OFF
    return Remedy.RENEW


def respond(lost: Lost, remedies: frozenset[Remedy], scheme: Scheme, state: Any) -> list[Instruction]:
    """The instructions that carry out the remedy for `lost` on a venue
    supporting `remedies` (see `supported_remedies`): the book's
    Desync, then the frames to send, the snapshot to fetch or the reconnect.
    The scheme's resubscribe_msg / refetch may update `state` (request ids,
    fetches out), as subscribe_msg does."""
    out: list[Instruction] = [Desync(lost.symbol, lost.reason)]
    if lost.kind in _ENDED:
        return out
    remedy = choose(lost.kind, remedies)
    if remedy is Remedy.RESUBSCRIBE:
        frames = scheme.resubscribe_msg(state, lost.symbol)  # type: ignore[attr-defined]
        if frames:
            out.append(Send(frames))
            return out
        remedy = Remedy.RENEW  # the market cannot be resubscribed now (no subscription to renew yet)
    elif remedy is Remedy.REFETCH:
        out.extend(scheme.refetch(state, lost.symbol))  # type: ignore[attr-defined]
        return out
    out.append(Reconnect(lost.reason, backoff=remedy is Remedy.BACK_OFF))
    return out


def supported_remedies(scheme: Any) -> frozenset[Remedy]:
    """A scheme's `remedies`, checked against the members they need, so that a
    scheme promising what it cannot do fails when its market starts, not at
    its first loss."""
    remedies: frozenset[Remedy] = getattr(scheme, "remedies", frozenset())
    needs = {Remedy.RESUBSCRIBE: "resubscribe_msg", Remedy.REFETCH: "refetch"}
    for remedy, member in needs.items():
        if remedy in remedies and not callable(getattr(scheme, member, None)):
            raise TypeError(f"{scheme.name} lists {remedy} among its remedies but has no {member}")
    return remedies
