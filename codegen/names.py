"""Validated C names and safe C comment text: nothing a user types reaches C unescaped."""

from __future__ import annotations

import re

from bdnn.errors import BDNNError

# C99 and C11/C23 keywords, plus names that would clash with the generated or standard macros.
C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic
    _Generic _Noreturn _Static_assert _Thread_local alignas alignof bool constexpr false nullptr
    static_assert thread_local true typeof typeof_unqual _BitInt _Decimal32 _Decimal64
    _Decimal128 asm""".split()
)
MAX_NAME_LENGTH = 40
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def validate_c_name(name: str) -> str:
    """Return ``name`` if it can prefix every generated C symbol, else raise ``BDNNError``.

    Accepted: an ASCII C identifier that starts with a letter (a leading underscore is reserved
    in C), at most 40 characters, not a C keyword.
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise BDNNError(
            f"--name {name!r} is not a C identifier; use letters, digits and '_', "
            "starting with a letter (e.g. iris_net)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise BDNNError(f"--name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if name in C_KEYWORDS or name.lower() in {"bdnn"}:
        raise BDNNError(f"--name {name!r} is reserved (a C keyword or 'bdnn'); choose another")
    return name


_COMMENT_SAFE = re.compile(r"[A-Za-z0-9 _.,:;+=()<>%@#'\"!&|~^$\[\]{}/*?-]")


def comment_text(value: object) -> str:
    """``str(value)`` made safe inside a C block comment on one line.

    Printable ASCII is kept; a backslash (line splice), control and non-ASCII characters are
    written as ``\\xNN``, and the pairs that would end or nest a comment or form a trigraph
    (``*/``, ``/*``, ``??``) get their second character escaped the same way.
    """
    out = []
    for ch in str(value):
        if _COMMENT_SAFE.match(ch):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    text = "".join(out)
    return text.replace("/*", "/\\x2a").replace("*/", "*\\x2f").replace("??", "?\\x3f")


def c_string_literal(value: object) -> str:
    """``str(value)`` as a C string literal: printable ASCII kept, ``"``, ``\\`` and ``?``
    (trigraphs) backslash-escaped, anything else as UTF-8 bytes in 3-digit octal escapes (an
    octal escape cannot swallow a following digit the way ``\\x`` does)."""
    out = []
    for byte in str(value).encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'
