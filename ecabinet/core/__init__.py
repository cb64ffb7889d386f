"""Framework-free pieces every layer shares.

Errors, settings, logs, metrics, i18n, validation, rate limits, text normalisation, the clock.
"""
