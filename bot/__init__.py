"""Telegram AI assistant bot: the core (settings, wiring, AI services, delivery)."""

__version__ = "0.1.0"
