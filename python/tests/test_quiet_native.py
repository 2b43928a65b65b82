"""quiet_native: the staged agent library's own prints are cut out of its code (the installed
flight-profiler's library, as the helper stages it), the three loader lines too."""

import os
import struct

import flight_profiler

from pyflight_helper import quiet_native

LIBRARY = os.path.join(os.path.dirname(flight_profiler.__file__), "lib", "flight_profiler_agent.so")
LOADER_LINES = (b"[PyFlightProfiler] Native profiler initialized.\n", b"[PyFlightProfiler] Agent initialization complete.\n",
                b"[PyFlightProfiler] Loading agent: %s\n")


def test_every_gilstat_print_site_is_silenced_and_nothing_else_changes():
    with open(LIBRARY, "rb") as f:
        data = f.read()
    patched, sites = quiet_native.silence(data)
    messages = {message for _site, message, _kind in sites}
    assert b"[*] gil_statistics not found when drop_gil enter\n" in messages
    assert b"[*] add interceptor to take_gil & drop_dril successfully\n" in messages  # g_print, stdout
    assert b"[PyFlightProfiler] Gil Stat Thread start Executing.\n" in messages
    assert set(LOADER_LINES) <= messages, messages  # every load printed these into the target's stdout
    assert [kind for _site, message, kind in sites if message == LOADER_LINES[2]] == ["fprintf"]
    assert all(m.startswith(b"[*] ") or m in quiet_native.SILENCED for m in messages)
    assert len(patched) == len(data)
    # Each site changes 4 bytes and nothing else changes: fwrite's length becomes 0, g_print's lea
    # points at the message's NUL.
    expected = bytearray(data)
    for site, message, kind in sites:
        if kind == "fwrite":
            assert data[site - 10] == 0xBA and struct.unpack("<I", data[site - 9:site - 5])[0] == len(message)
            expected[site - 9:site - 5] = b"\x00\x00\x00\x00"
        else:  # g_print's lea (rdi) or fprintf's (rsi): the format's NUL
            rel = struct.unpack("<i", data[site + 3:site + 7])[0]
            expected[site + 3:site + 7] = struct.pack("<i", rel + len(message))
    assert bytes(expected) == patched


def test_a_second_pass_finds_nothing_left_and_a_non_elf_is_left_alone():
    with open(LIBRARY, "rb") as f:
        patched, sites = quiet_native.silence(f.read())
    assert sites
    assert quiet_native.silence(patched)[1] == []  # lengths are 0, leas point past the messages
    assert quiet_native.silence(b"not an elf") == (b"not an elf", [])
