"""The one error tree of shopbot.

    ShopbotError                 every failure shopbot raises on purpose
    ├── ConfigError              a setting is missing or has a value that is not allowed
    ├── StoreUnavailable         Redis cannot be reached or answered with an error
    ├── ModelError               the language model failed to produce a reply
    │   └── ModelUnavailable     the model server is down, refused us or timed out
    ├── TrainingError            `shopbot train` cannot go on (bad data, bad options)
    └── MessageRejected          an inbound message is refused before it reaches the model
        ├── DuplicateMessage     the platform delivered a message we already have
        ├── MessageTooLong       longer than the limit, or than the model's context
        └── RateLimited          the customer sends faster than the configured limit

Each error carries a stable `code` (for logs, metrics and the web protocol's error frames)
and a `public_message`: the polite sentence a shopper may see. The exception text itself is
for operators and may hold details a shopper must not see.
"""

from __future__ import annotations


class ShopbotError(Exception):
    code = "internal"
    public_message = "Sorry, something went wrong on our side. Please try again in a moment."

    def __init__(self, detail: str = "", *, public_message: str | None = None) -> None:
        super().__init__(detail or self.public_message)
        if public_message is not None:
            self.public_message = public_message


class ConfigError(ShopbotError):
    code = "config"


class StoreUnavailable(ShopbotError):
    code = "unavailable"
    public_message = (
        "Sorry, I can't reach my memory right now, so I can't answer safely. "
        "Your message was not lost: please send it again in a moment."
    )


class ModelError(ShopbotError):
    code = "model_error"
    public_message = "Sorry, I couldn't write an answer just now. Please try again in a moment."


class ModelUnavailable(ModelError):
    code = "model_unavailable"


class TrainingError(ShopbotError):
    code = "training"


class MessageRejected(ShopbotError):
    code = "rejected"
    public_message = "Sorry, I can't take that message."


class DuplicateMessage(MessageRejected):
    code = "duplicate"
    public_message = "I already have this message; its answer is in the conversation."


class MessageTooLong(MessageRejected):
    code = "too_long"
    public_message = "That message is too long for me. Could you shorten it?"


class RateLimited(MessageRejected):
    code = "rate_limited"
    public_message = "You're sending messages faster than I can answer. Please wait a few seconds."
