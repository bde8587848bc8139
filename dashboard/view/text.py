"""Text from outside (a scenario, a link, a room, an engine message quoting either) shown as text, never as markup.

Streamlit reads Markdown in st.error, st.markdown and most labels: a link or an image written into
a scenario's field name would be rendered, and the browser would fetch the image. Every such
string goes through `as_text` first.
"""

from __future__ import annotations

import re

from engine.plain_text import CONTROL_CHARACTERS

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")


def as_text(text: object) -> str:
    """Return `text` with every character Markdown (or Streamlit's extensions) reads escaped."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def upload_name(upload) -> str:
    """Return an uploaded file's name as a message, a note or a description may quote it: the browser's words, with
    control and bidirectional characters shown as '?' (a scenario's text refuses them) and cut to 80 characters."""
    return CONTROL_CHARACTERS.sub("?", str(upload.name))[:80] or "upload"
