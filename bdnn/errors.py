"""User-facing errors: one line that says what is wrong and how to fix it."""


class BDNNError(Exception):
    """An error caused by the user's input (data, model file, options).

    The CLI prints ``error: <message>`` on one line and exits with code 2; no traceback.
    """


class ModelFileError(BDNNError):
    """A model file that cannot be read, is malformed or inconsistent."""


class DataError(BDNNError):
    """A data set or CSV file that cannot be used."""
