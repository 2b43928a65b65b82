"""ELF symbol tables, read from files (64-bit little-endian): where CPython's functions live.

Used inside the target by the agent (gilstat's symbol lookup; the safe `gilstat off` finds the
agent's own statics) and by the helper from outside (`gilstatState`, through /proc/<pid>/root).
Stdlib only, Python 3.8+, no state.
"""

import os
import struct

def program_headers(f, head):
    """[(p_type, p_offset, p_vaddr, p_filesz)] of a 64-bit little-endian ELF file open as `f`."""

    e_phoff = struct.unpack_from("<Q", head, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", head, 54)
    f.seek(e_phoff)
    ph = f.read(e_phentsize * e_phnum)
    out = []
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", ph, i * e_phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz))
    return out


def elf_symbols(f, head, section_types, symbol_type):
    """Yields (string table, name offset, st_value, st_size) of every defined symbol of `symbol_type`
    (1 OBJECT, 2 FUNC) in the sections of `section_types` (2 SHT_SYMTAB, 11 SHT_DYNSYM)."""

    e_shoff = struct.unpack_from("<Q", head, 40)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", head, 58)
    if not e_shoff or not e_shnum:
        return
    f.seek(e_shoff)
    sh = f.read(e_shentsize * e_shnum)
    sections = [struct.unpack_from("<IIQQQQIIQQ", sh, i * e_shentsize) for i in range(e_shnum)]
    for section in sections:
        if section[1] not in section_types or section[6] >= len(sections):
            continue
        strtab = sections[section[6]]
        f.seek(strtab[4])
        strings = f.read(strtab[5])
        f.seek(section[4])
        data = f.read(section[5])
        for off in range(0, len(data) - 23, 24):
            st_name, st_info, _other, _shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, off)
            if st_info & 0xF == symbol_type and st_value:
                yield strings, st_name, st_value, st_size


FUNC, OBJECT = 2, 1


def elf_sized(path, wanted, symbol_type=FUNC, section_types=(2, 11)):
    """(e_type, lowest PT_LOAD vaddr, {name: (st_value, st_size)}) of the symbols named in `wanted`
    in a 64-bit little-endian ELF file; functions match compiler clones too (`take_gil.lto_priv.0`).
    (None, None, {}) for anything else. Reads headers and symbol tables only."""

    found = {}
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None, None, found
        e_type = struct.unpack_from("<H", head, 16)[0]
        loads = [vaddr for p_type, _offset, vaddr, _size in program_headers(f, head) if p_type == 1]  # PT_LOAD
        first_load = min(loads) if loads else None
        ends = (b"\x00", b".") if symbol_type == FUNC else (b"\x00",)
        keys = [(name.encode("ascii"), name) for name in wanted]
        for strings, st_name, st_value, st_size in elf_symbols(f, head, section_types, symbol_type):
            for key, name in keys:
                if name not in found and strings.startswith(key, st_name):
                    if strings[st_name + len(key):st_name + len(key) + 1] in ends:
                        found[name] = (st_value, st_size)
    return e_type, first_load, found


def elf_functions(path, wanted):
    """(e_type, lowest PT_LOAD vaddr, {name: st_value}) of the FUNC symbols named in `wanted`."""
    e_type, first_load, found = elf_sized(path, wanted)
    return e_type, first_load, {name: value for name, (value, _size) in found.items()}


def build_id(path):
    """The GNU build id of an ELF file (hex), for /usr/lib/debug/.build-id/xx/yyyy.debug."""

    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        for p_type, p_offset, _vaddr, p_filesz in program_headers(f, head):
            if p_type != 4:  # PT_NOTE
                continue
            f.seek(p_offset)
            notes = f.read(p_filesz)
            pos = 0
            while pos + 12 <= len(notes):
                namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
                name_end = pos + 12 + ((namesz + 3) & ~3)
                if ntype == 3 and notes[pos + 12:pos + 12 + namesz].rstrip(b"\x00") == b"GNU":
                    return notes[name_end:name_end + descsz].hex()
                pos = name_end + ((descsz + 3) & ~3)
    return None


def mappings(pid):
    """[(start, end, permissions, path)] of the files mapped in process `pid` ("self" too)."""
    out = []
    with open("/proc/%s/maps" % pid) as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                out.append((start, end, parts[1], parts[5].strip()))
    return out


def first_starts(maps, keep):
    """{path: lowest start address} of the mapped files for which `keep(path)` is true: where each
    file's first segment is, which an ET_DYN file's addresses are relative to (load_bias)."""
    starts = {}
    for start, _end, _perms, path in maps:
        if keep(path) and (path not in starts or start < starts[path]):
            starts[path] = start
    return starts


def load_bias(e_type, first_load, start):
    """What to add to a symbol's value: ET_EXEC (2) has absolute addresses; ET_DYN (3) is relative
    to where its first segment is mapped."""
    return start - ((first_load or 0) & ~0xFFF) if e_type == 3 else 0


def locate_symbols(pid, wanted, root=""):
    """Where CPython's functions `wanted` are in process `pid`'s memory: ({name: (address, file)},
    [files searched]). `root` prefixes file paths (the helper reads a target's files through
    /proc/<pid>/root); `pid` may be "self" (inside the target, whose pid in its own namespace need not
    be its host pid)."""
    found, searched = locate_sized(pid, wanted, FUNC, root)
    return {name: (address, path) for name, (address, _size, path) in found.items()}, searched


def locate_sized(pid, wanted, symbol_type=FUNC, root="", maps=None):
    """({name: (address, size, file)}, [files searched]) of CPython's symbols `wanted` in process
    `pid`. Candidates are the executable and every mapped libpython; each file's symbols come from
    itself or its build-id debug file; the load bias from the process's mappings (`maps`, else read)."""
    exe = os.readlink("/proc/%s/exe" % pid)
    starts = first_starts(mappings(pid) if maps is None else maps,
                          lambda path: path == exe or os.path.basename(path).startswith("libpython"))
    found, searched = {}, []
    for path in sorted(starts, key=lambda p: p != exe):
        searched.append(path)
        missing = [name for name in wanted if name not in found]
        if not missing:
            break
        try:
            e_type, first_load, symbols = elf_sized(root + path, missing, symbol_type)
            if len(symbols) < len(missing):
                bid = build_id(root + path)
                debug = bid and "%s/usr/lib/debug/.build-id/%s/%s.debug" % (root, bid[:2], bid[2:])
                if debug and os.path.exists(debug):
                    searched.append(debug[len(root):])
                    _t, _l, more = elf_sized(debug, [n for n in missing if n not in symbols], symbol_type)
                    symbols.update(more)
        except (OSError, ValueError, IndexError):
            continue
        bias = load_bias(e_type, first_load, starts[path])
        for name, (value, size) in symbols.items():
            found[name] = (bias + value, size, path)
    return found, searched


def elf_objects(path, wanted):
    """{name: st_value} of the OBJECT symbols (static variables too) named in `wanted`."""
    _e, _l, found = elf_sized(path, wanted, OBJECT, (2,))  # .symtab: statics are local
    return {name: value for name, (value, _size) in found.items()}
