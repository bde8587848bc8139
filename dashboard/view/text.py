"""Text from outside (a scenario, a link, a room, an engine message quoting either) shown as text, never as markup.

Streamlit reads Markdown in st.error, st.markdown and most labels: a link or an image written into
a scenario's field name would be rendered, and the browser would fetch the image; a bare address
("https://sign-in.example") would be a link even escaped. Every such string goes through `as_text` first.
"""

from __future__ import annotations

import re

from engine.plain_text import CONTROL_CHARACTERS

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")


# GitHub's Markdown makes a link of a bare address ("https://...", "www.", "me@host") whatever is escaped; an
# invisible word joiner before its ':' or '@' (and inside "www.") leaves the text as it reads, not a link.
_JOINER = "\u2060"
_BARE_ADDRESS = re.compile(r"(?i)\b(w)(ww\\\.)|(\\:(?=//))|\b((?:mailto|xmpp))(\\:)|(@)")


def as_text(text: object) -> str:
    """Return `text` with every character Markdown (or Streamlit's extensions) reads escaped, and no bare address
    made into a link."""
    return _BARE_ADDRESS.sub(_unlinked, _MARKDOWN.sub(r"\\\1", str(text)))


def _unlinked(match: re.Match) -> str:
    """Put a word joiner where a bare address would begin: inside "www.", before "://", after "mailto", before "@"."""
    if match[1] or match[4]:  # "w|ww." and "mailto|:" are split in two
        return _JOINER.join(filter(None, match.groups()))
    return _JOINER + match[0]


def upload_name(upload) -> str:
    """Return an uploaded file's name as a message, a note or a description may quote it: the browser's words, with
    control and bidirectional characters shown as '?' (a scenario's text refuses them) and cut to 80 characters."""
    return CONTROL_CHARACTERS.sub("?", str(upload.name))[:80] or "upload"
