"""A fake of Finnhub's trade websocket: `server.FakeFinnhub` (library), `cli.main` (process)."""
