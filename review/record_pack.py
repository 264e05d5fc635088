"""The examiner's record as bytes: one canonical ZIP, its index and its digest.

The archive is written by this module's own few lines of ZIP (stored, no compression, every
header field fixed: 1980-01-01 00:00 timestamps, UTF-8 names, mode 0644, no extra fields, no
comments, entries sorted by name), never by `zipfile`, whose header bytes differ between Python
versions. So the same members always give the same bytes on any machine, and a verifier can
re-pack what it unpacked and compare the whole file byte for byte: any single changed byte
anywhere (a header, a name, the central directory, a member's content) makes them differ.

Any ZIP tool opens the record. Two members describe the others:

- `index.json`: every other member's name, SHA-256 and size, plus the record's format;
- `index.sha256`: the record digest, SHA-256 of `index.json`'s bytes, in `sha256sum` form
  (after unzipping, `sha256sum -c index.sha256` checks it).

This module imports nothing from the database side: `verify-record` runs it anywhere.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORMAT = "countersign-record/1"
INDEX = "index.json"
DIGEST = "index.sha256"

_LOCAL = struct.Struct("<IHHHHHIIIHH")  # signature .. extra length (30 bytes)
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # signature .. local header offset (46 bytes)
_END = struct.Struct("<IHHHHIIH")  # end of central directory (22 bytes)
_SIG_LOCAL, _SIG_CENTRAL, _SIG_END = 0x04034B50, 0x02014B50, 0x06054B50
_VERSION_MADE = (3 << 8) | 20  # Unix, ZIP 2.0
_VERSION_NEEDED = 20
_FLAGS = 0x0800  # names are UTF-8
_TIME, _DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00, the earliest a ZIP can say
_EXTERNAL = 0o100644 << 16  # a regular file, rw-r--r--
_LIMIT = 0xFFFFFFFF  # no ZIP64: a record (or member) must stay under 4 GiB
MAX_MEMBERS = 0xFFFF


class RecordFormatError(ValueError):
    """The bytes are not a record this module could have written (says what and where)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(data: Any) -> bytes:
    """Deterministic JSON for a member: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def check_name(name: str) -> str | None:
    """Why `name` may not name a member (None when it may): relative, no '..', no odd characters."""
    if not name or name.startswith("/") or "\\" in name or name.endswith("/"):
        return f"member name {name!r} is not a plain relative file path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return f"member name {name!r} has an empty, '.' or '..' part"
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        return f"member name {name!r} holds a control character"
    if len(name.encode("utf-8")) > 0xFFFF:
        return f"member name {name[:40]!r}... is too long"
    return None


def build_index(members: Mapping[str, bytes]) -> bytes:
    """index.json for these content members (every member but the index and the digest)."""
    listed = [{"name": n, "sha256": sha256(members[n]), "size": len(members[n])} for n in sorted(members)]
    return canonical({"format": FORMAT, "members": listed})


def digest_line(index_bytes: bytes) -> bytes:
    return f"{sha256(index_bytes)}  {INDEX}\n".encode("ascii")


def seal(members: Mapping[str, bytes]) -> tuple[bytes, str]:
    """(the archive's bytes, the record digest) for these content members."""
    for name in members:
        why = check_name(name) or (f"member name {name!r} is reserved for the record's own index" if name in (INDEX, DIGEST) else None)
        if why:
            raise RecordFormatError(why)
    index = build_index(members)
    everything = {**members, INDEX: index, DIGEST: digest_line(index)}
    return pack(everything), sha256(index)


def pack(members: Mapping[str, bytes]) -> bytes:
    """The canonical ZIP of `members` (name -> bytes), entries sorted by name."""
    if len(members) > MAX_MEMBERS:
        raise RecordFormatError(f"{len(members)} members: a record holds at most {MAX_MEMBERS}")
    out = bytearray()
    central = bytearray()
    for name in sorted(members):
        data = bytes(members[name])
        raw = name.encode("utf-8")
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        if len(data) > _LIMIT or offset > _LIMIT:
            raise RecordFormatError(f"member {name!r} would pass the 4 GiB a record may hold")
        out += _LOCAL.pack(_SIG_LOCAL, _VERSION_NEEDED, _FLAGS, 0, _TIME, _DATE, crc, len(data), len(data), len(raw), 0)
        out += raw
        out += data
        central += _CENTRAL.pack(
            _SIG_CENTRAL, _VERSION_MADE, _VERSION_NEEDED, _FLAGS, 0, _TIME, _DATE, crc, len(data), len(data), len(raw), 0, 0, 0, 0, _EXTERNAL, offset
        )
        central += raw
    if len(out) + len(central) > _LIMIT:
        raise RecordFormatError("the record would pass the 4 GiB a ZIP without ZIP64 may hold")
    end = _END.pack(_SIG_END, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def unpack(blob: bytes) -> dict[str, bytes]:
    """name -> bytes, read through the central directory. Raises RecordFormatError naming the
    first structural problem; say nothing about headers it does not read (re-pack and compare)."""
    if len(blob) < _END.size:
        raise RecordFormatError(f"{len(blob)} bytes: too short to be a ZIP archive")
    sig, disk, cd_disk, n_disk, n, cd_size, cd_offset, comment = _END.unpack_from(blob, len(blob) - _END.size)
    if sig != _SIG_END:
        raise RecordFormatError("the file does not end with a ZIP end-of-central-directory record (truncated, appended to, or not a record)")
    if disk or cd_disk or n_disk != n or comment:
        raise RecordFormatError("the end-of-central-directory record describes a multi-disk or commented archive")
    if cd_offset + cd_size != len(blob) - _END.size:
        raise RecordFormatError("the central directory does not sit right before the end record")
    members: dict[str, bytes] = {}
    pos = cd_offset
    for i in range(n):
        if pos + _CENTRAL.size > cd_offset + cd_size:
            raise RecordFormatError(f"central directory entry {i + 1} runs past the directory")
        fields = _CENTRAL.unpack_from(blob, pos)
        if fields[0] != _SIG_CENTRAL:
            raise RecordFormatError(f"central directory entry {i + 1} has a bad signature")
        size, name_len, extra_len, comment_len, local = fields[9], fields[10], fields[11], fields[12], fields[16]
        try:
            name = blob[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len].decode("utf-8")
        except UnicodeDecodeError:
            raise RecordFormatError(f"central directory entry {i + 1}'s name is not UTF-8") from None
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        if local + _LOCAL.size > cd_offset:
            raise RecordFormatError(f"member {name!r}: its local header lies outside the archive's data")
        lf = _LOCAL.unpack_from(blob, local)
        if lf[0] != _SIG_LOCAL:
            raise RecordFormatError(f"member {name!r}: its local header has a bad signature")
        start = local + _LOCAL.size + lf[9] + lf[10]
        if start + size > cd_offset:
            raise RecordFormatError(f"member {name!r}: its data runs past the archive's data")
        if name in members:
            raise RecordFormatError(f"member {name!r} appears twice")
        members[name] = blob[start : start + size]
    if pos != cd_offset + cd_size:
        raise RecordFormatError("the central directory holds bytes no entry accounts for")
    return members


@dataclass(frozen=True)
class Integrity:
    """What the bytes alone say: the members, the digest, and every problem found."""

    members: dict[str, bytes]
    digest: str
    problems: list[str]
    checked: int  # content members whose hash and size were checked


def first_difference(a: bytes, b: bytes) -> int:
    """The offset of the first byte where `a` and `b` differ (the shorter length when one is a prefix)."""
    n, step, i = min(len(a), len(b)), 4096, 0
    while i < n and a[i : i + step] == b[i : i + step]:
        i += step
    return next((j for j in range(i, min(i + step, n)) if a[j] != b[j]), n)


def check_integrity(blob: bytes) -> Integrity:
    """Unpack, re-pack and compare byte for byte; check the index and the digest."""
    try:
        members = unpack(blob)
    except RecordFormatError as e:
        return Integrity({}, "", [f"archive: {e}"], 0)
    problems: list[str] = []
    repacked = pack(members) if len(members) <= MAX_MEMBERS else b""
    if repacked != blob:
        at = first_difference(repacked, blob)
        problems.append(f"archive: the file is not the canonical packing of its members (first difference at byte {at}): headers or data were altered")
    for name in members:
        why = check_name(name)
        if why:
            problems.append(f"archive: {why}")
    index_bytes = members.get(INDEX)
    if index_bytes is None:
        return Integrity(members, "", [*problems, f"index: the record has no {INDEX}"], 0)
    digest = sha256(index_bytes)
    if members.get(DIGEST) != digest_line(index_bytes):
        problems.append(f"digest: {DIGEST} does not hold the SHA-256 of {INDEX} ({digest})")
    try:
        index = json.loads(index_bytes.decode("utf-8"))
        listed = {str(m["name"]): {"size": m["size"], "sha256": m["sha256"]} for m in index["members"]}
        fmt = index["format"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return Integrity(members, digest, [*problems, f"index: {INDEX} is not a valid index ({e})"], 0)
    if fmt != FORMAT:
        problems.append(f"index: format {fmt!r} is not {FORMAT!r}")
    if canonical(index) != index_bytes:
        problems.append(f"index: {INDEX} is not in canonical form")
    content = {n for n in members if n not in (INDEX, DIGEST)}
    for name in sorted(content - set(listed)):
        problems.append(f"member {name}: present in the archive but not listed in the index")
    for name in sorted(set(listed) - content):
        problems.append(f"member {name}: listed in the index but missing from the archive")
    checked = 0
    for name in sorted(content & set(listed)):
        entry, data = listed[name], members[name]
        if entry["size"] != len(data):
            problems.append(f"member {name}: {len(data)} bytes, the index says {entry['size']}")
        if entry["sha256"] != sha256(data):
            problems.append(f"member {name}: SHA-256 {sha256(data)} does not match the index ({entry['sha256']})")
        checked += 1
    return Integrity(members, digest, problems, checked)


def readme_text(summary: Mapping[str, Any]) -> bytes:
    """README.txt: the layout, how to verify, and the notes; made from record.json alone, so the
    verifier can make it again and compare."""
    camp, notes = summary["campaign"], [str(n) for n in summary["notes"]]
    lines = [
        f"Countersign examiner's record: campaign {camp['id']} ({camp['name']})",
        "",
        "record.json          what is in this record, the exports and their hashes, and notes",
        "messages/            per audience group (variant): each shipped message, its recipients, its AI-content marker",
        "drafts/              per draft: check report, revisions, comments, signatures (manifest, hash, signer, meaning, time), how to regenerate",
        "template/            the template version's source (its SHA-256 is its content hash)",
        "guidelines/          the brand's guideline files at the time this record was written",
        "exports/             the export files exactly as found",
        "audit/events.jsonl   the audit events of this campaign, its drafts, signatures, template, audience and exports",
        "audit/chain.jsonl    (seq, prev_hash, hash) of every event from the first to the last of those",
        f"{INDEX}           every other member's SHA-256 and size; {DIGEST} holds the record digest",
        "",
        "Check it offline:  python -m review verify-record <this file> --digest <the digest you were given>",
        "",
        f"Notes written while recording: {len(notes)}",
        *[f"- {n}" for n in notes],
        "",
    ]
    return "\n".join(lines).encode("utf-8")
