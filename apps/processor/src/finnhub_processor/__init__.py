"""finnhub_processor"""
