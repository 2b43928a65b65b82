"""Stable error codes; mirrored by src/common/errors.ts."""

PID_NOT_FOUND = "PID_NOT_FOUND"
NOT_PYTHON = "NOT_PYTHON"
PERMISSION_DENIED = "PERMISSION_DENIED"
PROFILER_NOT_INSTALLED = "PROFILER_NOT_INSTALLED"
VERSION_MISMATCH = "VERSION_MISMATCH"
UNSUPPORTED_PLATFORM = "UNSUPPORTED_PLATFORM"
ATTACH_FAILED = "ATTACH_FAILED"
ATTACH_TIMEOUT = "ATTACH_TIMEOUT"
NO_FREE_PORT = "NO_FREE_PORT"
TARGET_EXITED = "TARGET_EXITED"
BAD_ARGUMENT = "BAD_ARGUMENT"
BAD_LOCATION = "BAD_LOCATION"
BAD_EXPRESSION = "BAD_EXPRESSION"
FILE_NOT_IMPORTED = "FILE_NOT_IMPORTED"
HELPER_PROTOCOL = "HELPER_PROTOCOL"
CANCELLED = "CANCELLED"
INTERNAL = "INTERNAL"
TORCH_MISSING = "TORCH_MISSING"
TORCH_NO_CUDA = "TORCH_NO_CUDA"
MODULE_NOT_FOUND = "MODULE_NOT_FOUND"
CLASS_NOT_FOUND = "CLASS_NOT_FOUND"
NAME_NOT_FOUND = "NAME_NOT_FOUND"
NO_INSTANCES = "NO_INSTANCES"
RELOAD_REFUSED = "RELOAD_REFUSED"
# A heap census stopped at its time bound (maxSeconds): the message names the stage and the percent.
CENSUS_STOPPED = "CENSUS_STOPPED"
# The agent was loaded with code execution off (pyflight.agent.allowCode false): it refuses code itself.
CODE_EXECUTION_OFF = "CODE_EXECUTION_OFF"
# The agent in the process was loaded by another PyFlight version and lacks a call this one needs.
AGENT_OUTDATED = "AGENT_OUTDATED"
# This interpreter's row of the capability table (capabilities.json) refuses the feature.
INTERPRETER_UNSUPPORTED = "INTERPRETER_UNSUPPORTED"


class HelperError(Exception):
    """A failure with a stable code, one sentence and one next step."""

    def __init__(self, code, message, hint=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def to_json(self):
        out = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out
