"""The composition root: builds the bot from bot/, handlers/ and storage/ (none imports it)."""
