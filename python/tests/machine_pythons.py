"""The CPythons this machine kind has (pyenv 3.10 to 3.13 and Debian's), as pytest parameters for
tests that run a target on each; one that is not installed is None, and the test skips it."""

import os

import pytest

PYENV = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def interpreters():
    found = []
    versions_dir = os.path.join(PYENV, "versions")
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        versions = sorted(v for v in os.listdir(versions_dir) if v.startswith(minor + ".")) if os.path.isdir(versions_dir) else []
        python = versions and os.path.join(versions_dir, versions[-1], "bin", "python" + minor)
        found.append(pytest.param(python if python and os.path.exists(python) else None, id="pyenv-" + minor))
    found.append(pytest.param("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None, id="system"))
    return found
