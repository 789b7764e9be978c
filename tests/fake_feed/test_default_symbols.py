"""The fake feed lists, prices and spreads every default symbol of the contracts package."""

from __future__ import annotations

from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from finnhub_fake_feed.trades import DEFAULT_KNOWN_SYMBOLS, REALISTIC_RATE_SHARES


def test_every_default_symbol_is_known_to_the_feed_and_has_a_rate_share() -> None:
    assert set(DEFAULT_SYMBOLS) <= set(DEFAULT_KNOWN_SYMBOLS)
    assert set(REALISTIC_RATE_SHARES) == set(DEFAULT_SYMBOLS)
