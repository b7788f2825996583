"""Domain errors. Raised low, translated at the edges (HTTP status, CLI exit code)."""


class PaperboyError(Exception):
    """Base class for every error Paperboy raises on purpose."""


class InvalidArxivId(PaperboyError, ValueError):
    """Text that is not an arXiv identifier in either scheme."""


class PaperNotFound(PaperboyError, LookupError):
    """No paper with that id in the store."""


class InvalidPeriod(PaperboyError, ValueError):
    """A date, ISO week or month parameter that does not parse."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class ImportFileError(PaperboyError):
    """A whole input file cannot be read (truncated archive, wrong format)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class RecordRejected(PaperboyError, ValueError):
    """The database refused a record's values (constraint, range, encoding)."""


# -- refusals: a request a rule turns down ----------------------------------------------------
# Domain services raise these; each says WHAT went wrong (with a message for the person and the
# form field it is about) and nothing about HTTP. ``paperboy.web.errors`` holds the one mapping
# from these classes to status codes.


class Refusal(PaperboyError):
    """A request the rules refuse: a message for the person and the field it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self)

    @property
    def parameter(self) -> str | None:
        """The field, by the name the JSON API gives it."""
        return self.field


class Invalid(Refusal):
    """The input is malformed, missing or out of range."""


class LoginRequired(Refusal):
    """The action needs a signed-in user."""

    def __init__(self, message: str = "log in first", field: str | None = None) -> None:
        super().__init__(message, field)


class NotAllowed(Refusal):
    """The user may not do this (not theirs, not verified, not a moderator, hidden)."""


class NotFound(Refusal):
    """The thing named does not exist (or is not shown to this user)."""


class Conflict(Refusal):
    """The thing exists already or the action was done already."""


class TooMany(Refusal):
    """A quota is used up (e.g. submissions a day)."""


class Unavailable(Refusal):
    """A service the action needs cannot be reached; nothing was done."""


class RateLimited(TooMany):
    """Too many requests; ``retry_after`` seconds until the window ends."""

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after
