"""An experiment as a learner meets it, on the lessons page and in a room: predict first, then what to expect."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from curriculum.format import Experiment


def ask(experiment: Experiment, key: str, on_change: Callable | None = None, args: tuple = ()) -> int | None:
    """Draw what to do, the prediction to make first and what to watch; once predicted, what to expect.

    Return the learner's choice (None until they choose); `on_change(*args)` runs when they do.
    """
    predict = experiment.predict
    st.markdown(f":material/science: **Try it.** {experiment.do}")
    choice = st.radio(f"**Predict first.** {predict.question}", range(len(predict.choices)),
                      format_func=predict.choices.__getitem__, index=None, key=key, on_change=on_change, args=args)
    st.markdown(f"**Watch:** {experiment.watch}")
    if choice is not None:
        st.markdown(f"**You should see:** {experiment.see}")
    return choice
