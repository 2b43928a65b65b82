import textwrap

from pyflight_helper.qualnames import qualname

SOURCE = textwrap.dedent('''
    class Worker:
        def __call__(self, job):
            def step():
                return job
            return step()

        class Inner:
            async def run(self):
                pass

    def __call__():
        pass
''')


def test_methods_nested_functions_and_classes_are_qualified(tmp_path):
    path = tmp_path / "svc.py"
    path.write_text(SOURCE)
    assert qualname(str(path), 4, "__call__") == "Worker.__call__"
    assert qualname(str(path), 5, "step") == "Worker.__call__.<locals>.step"
    assert qualname(str(path), 10, "run") == "Worker.Inner.run"
    assert qualname(str(path), 13, "__call__") == "__call__"


def test_any_doubt_gives_the_bare_name(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    assert qualname(str(path), 1, "f") == "f"
    assert qualname(str(tmp_path / "missing.py"), 1, "g") == "g"
    assert qualname(str(tmp_path / "svc.py"), 3, "<module>") == "<module>"


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "svc.py"
    path.write_text(SOURCE)
    assert qualname(str(path), 4, "__call__") == "Worker.__call__"
    path.write_text("class Other:\n    def x(self):\n        pass\n\n\n\n\n\n\n\n\n\n\n\n")
    assert qualname(str(path), 3, "x") == "Other.x"
