"""Text from outside (a scenario, a link, a room, an engine message quoting either) shown as text, never as markup.

Streamlit reads Markdown in st.error, st.markdown and most labels: a link or an image written into
a scenario's field name would be rendered, and the browser would fetch the image. Every such
string goes through `as_text` first.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")


def as_text(text: object) -> str:
    """Return `text` with every character Markdown (or Streamlit's extensions) reads escaped."""
    return _MARKDOWN.sub(r"\\\1", str(text))
