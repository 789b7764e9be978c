"""The symbols the producer subscribes to, `make run` feeds and the dashboards show by default."""

DEFAULT_SYMBOLS = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "BINANCE:XRPUSDT", "BINANCE:DOGEUSDT")
