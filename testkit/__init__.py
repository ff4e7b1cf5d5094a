"""What tests/ and bench/ share: the loopback fakes of the Telegram Bot API and the OpenAI API
(with the official specs they check requests against, in `specs/`), the bot run in-process
(`running`) or as its own process (`botprocess`). Not part of the installed bot."""
