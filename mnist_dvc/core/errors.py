"""The project's exception types: expected failures that a stage reports as one line."""


class PipelineError(Exception):
    """An expected failure: bad params, bad data, a failed download.

    The message is shown to the user as is, so it names the file or key, what
    was found and what was expected.
    """


class ParamsError(PipelineError):
    """params.yaml or datasets.yaml is missing, malformed or holds a bad value."""


class DataError(PipelineError):
    """An input file is missing, corrupt or not what the dataset definition promises."""


class DownloadError(DataError):
    """No mirror delivered a file that passed its checksum."""


class TrainingError(PipelineError):
    """Training went wrong in a way the params can fix: the loss stopped being a finite number."""


class ExportError(PipelineError):
    """A converter cannot handle the model, or an exported model does not answer as the classifier does."""
