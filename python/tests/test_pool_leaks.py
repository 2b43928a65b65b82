"""pool_leaks reads a program's source for the functions that take from a pool and give back outside
`finally`: a raise or a return in between keeps what was taken (judge 13's load_order). Real files
in a real package; the stack that points at the pool is a thread's as the helper builds it."""

import textwrap

from pyflight_helper.pool_leaks import link_leaks

POOL = textwrap.dedent('''
    import contextlib, queue, threading

    class ConnectionPool:
        def __init__(self, size):
            self._idle = queue.Queue()
            for i in range(size):
                self._idle.put(i)

        def acquire(self):
            return self._idle.get(timeout=10)

        def release(self, conn):
            self._idle.put_nowait(conn)

        @contextlib.contextmanager
        def connection(self):
            conn = self.acquire()
            try:
                yield conn
            finally:
                self.release(conn)

    POOL = ConnectionPool(4)
''')

CALLERS = textwrap.dedent('''
    import threading
    from .db import POOL

    _lock = threading.Lock()

    class NotFound(Exception):
        pass

    def load_order(order_id):
        pool = POOL
        conn = pool.acquire()
        row = order_id
        if row is None:
            raise NotFound(order_id)
        pool.release(conn)
        return row

    def count_orders():
        conn = POOL.acquire()
        try:
            return 1
        finally:
            POOL.release(conn)

    def with_block():
        with POOL.connection() as conn:
            return conn

    def handed_on():
        return POOL.acquire()

    def rolled_back():
        conn = POOL.acquire()
        try:
            n = 1
        except Exception:
            POOL.release(conn)
            raise
        POOL.release(conn)
        return n

    def silent_exception():
        conn = POOL.acquire()
        value = compute(conn)
        POOL.release(conn)
        return value

    def timed_out():
        try:
            conn = POOL.acquire()
        except TimeoutError:
            return None
        try:
            return conn
        finally:
            POOL.release(conn)

    def swallowed():
        try:
            conn = POOL.acquire()
            value = compute(conn)
            POOL.release(conn)
        except ValueError:
            value = None
        return value

    def counter():
        _lock.acquire()
        n = 1
        if n:
            return n
        _lock.release()
''')


def _package(tmp_path):
    pkg = tmp_path / "ordersapp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "db.py").write_text(POOL)
    (pkg / "repository.py").write_text(CALLERS)
    return pkg


def _waiter(db):
    line = next(i for i, text in enumerate(POOL.splitlines(), 1) if "self._idle.get(" in text)
    return {"name": "worker-1", "blockedOn": {"expression": "self._idle", "file": str(db), "line": line, "kind": "queue", "via": "Queue.get"},
            "frames": [{"kind": "python", "file": "/usr/lib/python3.11/queue.py", "line": 180, "function": "Queue.get"},
                       {"kind": "python", "file": str(db), "line": line, "function": "ConnectionPool.acquire"}]}


def test_the_functions_that_leak_are_found_explicit_exits_first(tmp_path):
    pkg = _package(tmp_path)
    waiter = _waiter(pkg / "db.py")
    link_leaks([waiter])
    b = waiter["blockedOn"]
    assert b["pool"] == {"class": "ConnectionPool", "take": ["acquire"], "give": ["release"]}
    found = [(leak["function"], leak["take"], leak["give"], [e["text"] for e in leak["exits"]]) for leak in b["leaks"]]
    assert found == [
        ("load_order", "pool.acquire()", "pool.release(conn)", ["raise NotFound(order_id)"]),
        ("swallowed", "POOL.acquire()", "POOL.release(conn)", ["except ValueError:"]),
        ("silent_exception", "POOL.acquire()", "POOL.release(conn)", []),
    ], found
    assert b["leaks"][1]["exits"][0]["handler"] is True and b["leaks"][1]["exits"][0]["calls"] is None
    first = b["leaks"][0]
    lines = CALLERS.splitlines()
    assert lines[first["line"] - 1].strip() == "conn = pool.acquire()"
    assert lines[first["giveLine"] - 1].strip() == "pool.release(conn)"
    assert lines[first["exits"][0]["line"] - 1].strip() == "raise NotFound(order_id)"


# The pool's own context manager sends an exception to a method that drops the connection without
# giving its slot back (judge 14's ledger pool: only _checkin releases the semaphore).
SLOTTED = textwrap.dedent('''
    import contextlib, threading

    class SlotPool:
        def __init__(self, size):
            self._slots = threading.BoundedSemaphore(size)
            self._idle = []

        def _checkout(self):
            self._slots.acquire(timeout=5)
            return self._idle.pop() if self._idle else object()

        def _checkin(self, conn):
            self._idle.append(conn)
            self._slots.release()

        def _discard(self, conn):
            del conn

        @contextlib.contextmanager
        def connection(self):
            conn = self._checkout()
            try:
                yield conn
            except BaseException:
                self._discard(conn)
                raise
            else:
                self._checkin(conn)

        @contextlib.contextmanager
        def safe_connection(self):
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._checkin(conn)
''')


def test_the_pools_own_context_manager_that_drops_on_an_exception_is_found(tmp_path):
    pkg = tmp_path / "ledger"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "dbpool.py").write_text(SLOTTED)
    line = next(i for i, text in enumerate(SLOTTED.splitlines(), 1) if "self._slots.acquire(" in text)
    waiter = {"name": "MainThread", "blockedOn": {"expression": "self._slots", "file": str(pkg / "dbpool.py"), "line": line, "kind": "semaphore"},
              "frames": [{"kind": "python", "file": str(pkg / "dbpool.py"), "line": line, "function": "SlotPool._checkout"}]}
    link_leaks([waiter])
    b = waiter["blockedOn"]
    assert b["pool"] == {"class": "SlotPool", "take": ["_checkout"], "give": ["_checkin"]}
    assert [(leak["function"], leak["take"], leak["give"]) for leak in b["leaks"]] == [("SlotPool.connection", "self._checkout()", "self._checkin(conn)")]
    [exit] = b["leaks"][0]["exits"]
    assert exit["text"] == "except BaseException:" and exit["calls"] == "self._discard(conn)" and exit["handler"] is True


def test_a_pool_someone_holds_or_feeds_is_not_read_for_leaks(tmp_path):
    pkg = _package(tmp_path)
    held, fed = _waiter(pkg / "db.py"), _waiter(pkg / "db.py")
    held["blockedOn"]["heldBy"] = ["worker-2"]
    fed["blockedOn"]["fedBy"] = ["worker-3"]
    link_leaks([held, fed])
    assert "leaks" not in held["blockedOn"] and "leaks" not in fed["blockedOn"]


def test_a_store_without_a_pool_class_is_matched_by_its_own_name(tmp_path):
    script = tmp_path / "jobs.py"
    script.write_text(textwrap.dedent('''
        import threading
        SLOTS = threading.Semaphore(2)

        def run(job):
            SLOTS.acquire()
            if not job:
                return None
            SLOTS.release()
            return job

        def wait_for_slot():
            SLOTS.acquire()
    '''))
    line = 13
    waiter = {"name": "t", "blockedOn": {"expression": "SLOTS", "file": str(script), "line": line, "kind": "semaphore"},
              "frames": [{"kind": "python", "file": str(script), "line": line, "function": "wait_for_slot"}]}
    link_leaks([waiter])
    leaks = waiter["blockedOn"]["leaks"]
    assert [(leak["function"], [e["text"] for e in leak["exits"]]) for leak in leaks] == [("run", ["return None"])]
    assert waiter["blockedOn"]["pool"] == {"class": None, "take": ["acquire"], "give": ["release"]}
