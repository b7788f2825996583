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
