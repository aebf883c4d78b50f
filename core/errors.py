"""Error types for user-facing problems.

Every reader, checker and entry point raises a subclass of :class:`SkelsplatError` for
problems caused by input (a file, a camera, a frame). The CLI and the Blender operators
catch this type and show its message; anything else is a bug and keeps its traceback.
"""


class SkelsplatError(ValueError):
    """A problem with user input, with a message that says where and what was expected.

    ``option`` names the setting that would resolve it, by its API name (``overwrite``,
    ``joint_set``, ``fps``...): the message speaks of the setting's meaning and each front
    end names its own control for it (the CLI its flag, the add-on its field).
    """

    def __init__(self, *args: object, option: str | None = None) -> None:
        super().__init__(*args)
        self.option = option


class CalibrationError(SkelsplatError):
    """A calibration file is missing, malformed or describes an impossible camera."""


class KeypointError(SkelsplatError):
    """A 2D keypoint file or array is missing, malformed or inconsistent with the rig."""


class VideoError(SkelsplatError):
    """A video cannot be opened, decoded, or does not match the take."""


class FitError(SkelsplatError):
    """The fitter got inputs it cannot work with (shapes, camera counts, options)."""


class ExportError(SkelsplatError):
    """A result cannot be written (existing file without overwrite, bad path, bad data)."""


class Cancelled(Exception):  # noqa: N818 - reads better at the raise site
    """Raised inside long work when the user's cancel token is set."""
