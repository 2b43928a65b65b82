from pyflight_helper.target import is_python_executable


def test_python_executables_are_told_the_same_way_as_in_the_extension():
    # Names seen on real systems; the rule mirrors src/common/pythonExecutable.ts.
    for name in ("/usr/bin/python3.11", "/opt/py/bin/python3.13t", "/usr/bin/python3.12d", "python",
                 "/Library/Frameworks/Python.framework/Versions/3.12/Resources/Python.app/Contents/MacOS/Python"):
        assert is_python_executable(name), name
    for name in ("/usr/bin/python3-config", "/usr/bin/sleep", "/usr/bin/pythonista", "/usr/bin/ipython3"):
        assert not is_python_executable(name), name
