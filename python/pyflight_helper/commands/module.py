"""`module`: which module name a source file has inside the target (e.g. __main__ or pkg.mod)."""

import os

from .. import errors
from ..errors import HelperError
from ..wire import request, strip_ansi


def module(agent, path):
    if not path or not os.path.isabs(path):
        raise HelperError(errors.BAD_ARGUMENT, "The file path must be absolute: %r." % path)
    if not os.path.exists(path):
        raise HelperError(errors.BAD_ARGUMENT, "File %s does not exist on this machine." % path,
                          "The file must exist where the target runs.")
    text = strip_ansi("".join(f for f in request(agent, "module", path, timeout=15) if isinstance(f, str))).strip()
    if "is not imported in target process" in text:
        raise HelperError(errors.FILE_NOT_IMPORTED, "%s is not imported in the target process." % path,
                          "Open a file the target has imported (check it runs this copy of the code).")
    if not text or text.startswith("Traceback") or "\n" in text:
        raise HelperError(errors.INTERNAL, "Unexpected answer from the agent: %s" % text[:200])
    return {"file": path, "module": text}
