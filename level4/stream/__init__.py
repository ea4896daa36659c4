"""Downstream consumers' side: the /stream websocket and the query routes'
data, both fed by the event hub."""
