// The page's address names the market shown (/#market=ID), so that a market's
// view can be bookmarked, opened directly and left with the back button.

export function marketHref(id) {
  return `#market=${id}`;
}

// The market id the address names, or null (none, or not an id).
export function marketInAddress() {
  const value = new URLSearchParams(location.hash.slice(1)).get("market");
  const id = Number(value);
  return value && Number.isInteger(id) && id > 0 ? id : null;
}

// Show a market: a new history entry, so that back returns to what was shown before.
export function goToMarket(id) {
  if (location.hash !== marketHref(id)) location.hash = marketHref(id);
}

// Back, forward, a link, an edited address: `follow` shows what the address now names.
export function onAddressChange(follow) {
  window.addEventListener("hashchange", follow);
}
