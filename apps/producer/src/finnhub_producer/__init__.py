"""finnhub_producer"""
