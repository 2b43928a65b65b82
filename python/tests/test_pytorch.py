"""The torch command's checks that need no target: torch detection from /proc maps and the
data-only reading of a memory snapshot (a file the target wrote, so it must not run code here)."""

import os
import pickle
import subprocess
import sys

import pytest

from pyflight_helper import errors
from pyflight_helper.commands.pytorch import require_torch, summarize_snapshot, torch_library
from pyflight_helper.errors import HelperError


def test_a_process_without_torch_has_no_libtorch():
    assert torch_library(os.getpid()) is None  # pytest never imports torch
    with pytest.raises(HelperError) as caught:
        require_torch(os.getpid())
    assert caught.value.code == errors.TORCH_MISSING
    assert "has not imported torch" in caught.value.message


def test_a_process_with_torch_has_it_mapped():
    # torch is in .venv: scripts/setup.mjs installs python/requirements-torch.txt (never skipped).
    child = subprocess.Popen([sys.executable, "-c", "import torch, sys; print('ok', flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ok"
        assert "torch" in torch_library(child.pid)
    finally:
        child.stdin.close()
        child.wait(30)


class _Boom(object):
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_a_snapshot_that_names_a_class_is_refused(tmp_path):
    path = tmp_path / "snapshot.pickle"
    path.write_bytes(pickle.dumps({"segments": [], "x": _Boom()}))
    with pytest.raises(pickle.UnpicklingError, match="only plain data"):
        summarize_snapshot(str(path))
