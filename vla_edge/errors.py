"""One error hierarchy. Every message says what was asked, what was found, and how to fix it."""

from __future__ import annotations


class VlaEdgeError(Exception):
    """Base class of every error vla-edge raises on purpose. The CLI prints it in one line."""

    exit_code = 1


class SpecError(VlaEdgeError):
    """A PolicySpec (or something checked against one) is invalid."""


class InputError(VlaEdgeError):
    """An input to a policy or runner has the wrong name, shape, dtype or value."""


class ShapeError(InputError):
    """An array has a shape other than the one expected."""


class ActionError(VlaEdgeError):
    """A policy produced actions that must not be sent (NaN or inf)."""


class BundleError(VlaEdgeError):
    """A bundle on disk is missing, incomplete, tampered with, or of an unknown format."""


class OutputError(VlaEdgeError):
    """An output directory cannot be written without losing something (not ours, or an input)."""


class ExportError(VlaEdgeError):
    """Exporting a model to ONNX failed."""


class ParityError(ExportError):
    """An exported graph disagrees with its parent beyond the tolerance."""


class AdapterError(ExportError):
    """A model we did not define cannot be imported (unknown type, unsupported setting)."""


class BackendError(VlaEdgeError):
    """A backend (runner) cannot be created or used as asked."""


class DependencyError(VlaEdgeError):
    """An optional dependency is missing."""


class CheckpointError(VlaEdgeError):
    """A model checkpoint cannot be read."""


class QuantizationError(VlaEdgeError):
    """Quantization could not be done as asked."""


class CalibrationError(QuantizationError):
    """Calibration data is empty, of the wrong shape, or names the wrong cameras."""


class EngineBuildError(VlaEdgeError):
    """A TensorRT engine could not be built."""


class DeviceError(VlaEdgeError):
    """The device asked for is unknown, absent, or does not match an engine."""


class DeployError(VlaEdgeError):
    """Deploying onto a robot computer was refused or failed (the previous version stays)."""


class SshError(DeployError):
    """The robot could not be reached or logged into over SSH (host, key, or host key)."""


class DataError(VlaEdgeError):
    """A demonstration dataset is missing, empty or corrupted."""


class SimError(VlaEdgeError):
    """The simulator could not be set up or run."""


class RuntimeLoopError(VlaEdgeError):
    """The control loop cannot start (bad camera, actuator, or a mismatched action space)."""


class KernelBuildError(VlaEdgeError):
    """A vla-edge CUDA kernel (or its host build) could not be compiled or loaded."""
