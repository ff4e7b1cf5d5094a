"""Who a request is for, as OpenAI sees it: salted hashes, never a raw Telegram id.

`safety_identifier` (one per Telegram user, so OpenAI can flag one abuser rather than the whole
bot) is HMAC-SHA256(salt, str(user_id)) in hex, cut to the API's 64 characters.
`prompt_cache_key` groups the requests that share a prefix (instructions + tools + the
conversation so far): one key per chat (or forum topic) and assistant, the chat hashed with the
same salt. The salt is the database's own secret (`Storage.identity_salt`) unless the setting
SAFETY_IDENTIFIER_SALT gives one: the same user gets the same identifier across restarts, and a
different database (without the setting) gives everyone new ones.
"""

from __future__ import annotations

import hashlib
import hmac

#: The API's limit on `safety_identifier` (and on `prompt_cache_key` for compaction requests).
MAX_IDENTIFIER_CHARS = 64
#: The classifier's prompt is the same for every user and chat: one key for all its requests.
CLASSIFIER_CACHE_KEY = "classifier"


class Identity:
    def __init__(self, salt: str) -> None:
        if not salt:
            raise ValueError("the identity salt is empty")
        self._key = salt.encode("utf-8")

    def __repr__(self) -> str:  # the salt is a secret: never in a repr, a log line or a trace
        return "Identity(<salt>)"

    def _hash(self, text: str) -> str:
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def safety_identifier(self, user_id: int) -> str:
        return self._hash(str(user_id))[:MAX_IDENTIFIER_CHARS]

    def prompt_cache_key(self, chat_id: int, thread_id: int, assistant_id: int) -> str:
        chat = self._hash(f"chat:{chat_id}:{thread_id}")[:32]
        return f"chat:{chat}:a{assistant_id}"[:MAX_IDENTIFIER_CHARS]
