"""The one error type of the engine: every invalid input raises it with an actionable message."""


class CoupleError(ValueError):
    """Invalid regional-prompting input; the message names the line or row and the fix."""
