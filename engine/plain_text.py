"""What every text door checks before it reads a word: the size, the encoding and the characters.

Text comes in from outside by several doors: a scenario (a file, the sandbox's box, an upload, a
share link), a search spec, a traffic trace, a similarity curve, and the Lab's labelled question
pairs. Each door reads its own format, but the first three checks are the same for all, and are
made here, once, in this order:

1. the size, before anything is decoded (a 6 MB paste is refused at once, not parsed);
2. the encoding: UTF-8 strictly (a spreadsheet's byte-order mark is dropped, UTF-16 is named);
3. the characters: no control character a terminal or a page would act on (escape sequences, NUL,
   and, except in natural-language text, the bidirectional overrides a "Trojan source" hides
   behind). Tab, line feed and carriage return are text.

A refusal is a TextRefused whose message names the problem, where it is and what is allowed; each
door wraps it in its own error (a ScenarioError, a PairsCsvError...) with the source's name.

A file named on a command line is read by `read_file` first: only a regular file, and no more of
it than the door's limit.
"""

from __future__ import annotations

import os
import re
import stat

# C0 and C1 controls but tab, line feed and carriage return; and lone surrogates (a str from a browser may hold one).
CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
# Marks and overrides that change the order text is shown in: real questions in Arabic or Hebrew carry the
# marks (one of the 20,000 Quora pairs has a U+200F), a name or a number never needs them.
BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
CONTROL_CHARACTERS = re.compile(f"[{CONTROLS}{BIDI}]")
CONTROLS_ONLY = re.compile(f"[{CONTROLS}]")


class TextRefused(ValueError):
    """Text a door will not read: the message says what, where, and what is allowed."""


def where(text: str, index: int) -> str:
    """Return 'line L, column C' of character `index` in `text`, as an editor counts them."""
    line = text.count("\n", 0, index) + 1
    return f"line {line:,}, column {index - (text.rfind(chr(10), 0, index) + 1) + 1:,}"


def quoted(value: str) -> str:
    """Return a value read from text (a cell, a header, a name) as a message quotes it: its repr, cut to 30
    characters."""
    return repr(value if len(value) <= 30 else value[:27] + "...")


def plain_text(raw: bytes | str, what: str, limit: int, *, natural_language: bool = False) -> str:
    """Return `raw` as text once it passes the three checks, or raise TextRefused.

    `what` names the kind of text in messages ("a scenario", "a trace"); `limit` is its size in bytes
    at most; `natural_language` lets the bidirectional marks of right-to-left writing through.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise TextRefused(f"{size:,} bytes is not allowed: at most {limit:,}")
    if isinstance(raw, bytes):
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise TextRefused(f"UTF-16 text is not allowed: {what} is UTF-8 text (save it as UTF-8)")
        try:
            text = raw.decode("utf-8-sig")  # a byte-order mark, as spreadsheets write one, is not text
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise TextRefused(f"line {line:,}, byte {exc.start:,} (0x{raw[exc.start]:02x}) is not allowed: {what} is "
                              "UTF-8 text (save it as UTF-8)") from None
    else:
        text = raw.removeprefix("\ufeff")  # the same mark, once decoded by whoever handed us the text
    bad = (CONTROLS_ONLY if natural_language else CONTROL_CHARACTERS).search(text)
    if bad:
        raise TextRefused(f"control character U+{ord(bad.group()):04X} at {where(text, bad.start())} is not allowed: "
                          "only tabs and line breaks")
    return text


def plain_field(value: str) -> str:
    """Return a one-field `value` (a name, a description) if it holds no control character, else raise ValueError
    saying which and where (a pydantic validator: the error names the field)."""
    bad = CONTROL_CHARACTERS.search(value)
    if bad:
        raise ValueError(f"control character U+{ord(bad.group()):04X} at position {bad.start() + 1} is not allowed: "
                         "plain text only")
    return value


def read_file(path: str | os.PathLike, limit: int) -> bytes:
    """Return the regular file at `path` if it holds at most `limit` bytes (read no further than `limit` + 1, should it
    grow meanwhile: its door then refuses it), or raise TextRefused naming its size.

    A pipe would block and a device (/dev/zero) would never end. The file is opened without blocking
    and checked once open, so a pipe put in its place after a check cannot make the read wait.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise TextRefused(f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TextRefused("is not allowed: not a regular file (a pipe, a device or a folder)")
        if info.st_size > limit:  # its true size, not the limit + 1 a door would see
            raise TextRefused(f"{info.st_size:,} bytes is not allowed: at most {limit:,}")
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise TextRefused(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
