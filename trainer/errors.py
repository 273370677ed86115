"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""


class TrainerError(Exception):
    """A fatal error caused by input or configuration the user can fix."""


class ConfigError(TrainerError):
    """A configuration file or override is invalid."""


class DataError(TrainerError):
    """Input data cannot be read or a dataset directory is malformed."""
