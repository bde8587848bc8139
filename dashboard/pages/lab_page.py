"""Lab: the real thing beside the simulation, a semantic cache and a token limiter running on Redis.

The lessons' semantic cache and token limits are simulated. Here they are real (lab/): questions
are embedded by all-MiniLM-L6-v2 on this CPU and compared with the cosine similarity, answers sit in
Redis with a time to live, and a Lua token bucket in Redis admits or refuses LLM calls. Three parts:

1. Ask the cache: type questions and see how similar each is to the stored ones, and whether the
   cache answers, misses or answers a different question at the chosen threshold.
2. Your own pairs: measure hit and false-hit rates per threshold on labelled pairs, then run the
   simulation's semantic cache on that curve.
3. The limiter: fire N requests at once and see it refuse exactly what the bucket does not hold.

(The file is not called lab.py: Streamlit puts a page's folder on the import path, where a lab.py
would hide the lab package.)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import plotly.graph_objects as go
import streamlit as st
import yaml

from dashboard.view.charts import plain
from dashboard.view.figure import show_figure
from dashboard.view.links import app_link
from dashboard.view.scenario_source import encode_link
from dashboard.view.text import as_text, upload_name
from engine.paths import ASSETS_DIR

EXAMPLES = ASSETS_DIR / "lab_cache_examples.yaml"  # what the cache starts with, and questions to try
SAMPLE_PAIRS = ASSETS_DIR / "quora_pairs_sample200.csv"
MAX_ASKED = 20  # questions per ask
MAX_FIRED = 1_000


@st.cache_resource(show_spinner="Loading the embedding model (all-MiniLM-L6-v2)...")
def _embedder():
    from lab.embedding import shared_embedder

    return shared_embedder()


@st.cache_resource(show_spinner=False)
def _redis():
    from lab.connection import connect

    return connect()


def _tenant() -> str:
    """Each browser session gets its own tenant, so learners sharing one Redis never see each other's answers."""
    if "lab_tenant" not in st.session_state:
        st.session_state["lab_tenant"] = "session-" + secrets.token_hex(8)
    return st.session_state["lab_tenant"]


@st.cache_data(show_spinner=False)
def _examples() -> dict:
    return yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))


def _cache(threshold: float):
    from lab.semantic_cache import SemanticCache

    cache = SemanticCache(_redis(), _embedder(), _tenant(), threshold=threshold, ttl_s=3600)
    if not st.session_state.get("lab_seeded"):
        cache.put_many([(item["question"], item["answer"]) for item in _examples()["stored"]])
        st.session_state["lab_seeded"] = True
    return cache


# --- 1. ask the cache ------------------------------------------------------------------------------------------

def _ask_the_cache() -> None:
    from lab.semantic_cache import DEFAULT_THRESHOLD

    st.markdown("A semantic cache stores answers with the **embedding** of their question. A new question is "
                "embedded too, and the stored answer whose question is most similar is served if the **cosine "
                "similarity** reaches the threshold. Ask in other words and see what comes back.")
    threshold = st.slider("Threshold (cosine similarity for a hit)", 0.5, 1.0, DEFAULT_THRESHOLD, 0.01,
                          key="lab_threshold",
                          help="The default was chosen on 20,000 Quora question pairs (docs/lab.md).")
    cache = _cache(threshold)
    known = {item["question"]: item["same_as"] for item in _examples()["try"]}
    asked = st.text_area("Your questions, one per line", key="lab_questions", max_chars=4_000, value="\n".join(known),
                         height=190)
    questions = [line.strip() for line in asked.splitlines() if line.strip()][:MAX_ASKED]
    if not questions:
        st.info("Type a question to look it up.")
    else:
        started = time.perf_counter()
        found = cache.lookup_many(questions)
        spent_ms = (time.perf_counter() - started) * 1000 / len(questions)
        rows = [{"Your question": q, "Nearest stored question": f.question or "(the cache is empty)",
                 "Similarity": round(f.similarity, 3) if f.similarity is not None else None,
                 "Cache": "hit" if f.hit else "miss",
                 "It asks the same thing": known[q] == f.question if q in known else f.hit,
                 "Served answer": f.answer or ""} for q, f in zip(questions, found)]
        st.caption(f"{len(questions)} lookups, {spent_ms:.1f} ms each (embedding and exact search over "
                   f"{cache.size()} stored answers). Tick whether your question asks the same thing as the "
                   "nearest stored one: a hit on a different question is a **wrong answer**. Try a threshold of 0.70.")
        judged = "lab_judged_" + hashlib.sha256("\n".join(questions).encode()).hexdigest()[:12]  # edits of these questions
        edited = st.data_editor(rows, key=judged, hide_index=True, width="stretch",
                                disabled=["Your question", "Nearest stored question", "Similarity", "Cache",
                                          "Served answer"])
        outcomes = {"right answer": 0, "wrong answer": 0, "missed rewording": 0, "right miss": 0}
        for row in edited:
            same = bool(row["It asks the same thing"])
            hit = row["Cache"] == "hit"
            outcomes[("right answer" if same else "wrong answer") if hit else
                     ("missed rewording" if same else "right miss")] += 1
        st.markdown(" · ".join(f"**{n}** {name}" for name, n in outcomes.items()))
        shown = st.selectbox("Draw the similarities of", questions, key="lab_shown")
        _similarity_chart(cache, shown or questions[0], threshold)
    with st.expander("Store another answer"):
        with st.form("lab_store", clear_on_submit=True):
            question = st.text_input("Question", max_chars=500)
            answer = st.text_input("Answer", max_chars=2_000)
            if st.form_submit_button("Store it") and question.strip() and answer.strip():
                cache.put(question.strip(), answer.strip())
                st.success("Stored for an hour.")


def _similarity_chart(cache, question: str, threshold: float) -> None:
    nearest = cache.nearest(question, k=10)
    if not nearest:
        return
    figure = go.Figure(go.Bar(x=[s for _, s in nearest][::-1], y=[plain(q)[:60] for q, _ in nearest][::-1],
                              orientation="h", marker_color=["#2ca02c" if s >= threshold else "#9ecae1"
                                                             for _, s in nearest][::-1],
                              hovertemplate="%{x:.3f}<extra></extra>"))
    figure.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.2f}",
                     annotation_position="bottom right")
    figure.update_layout(title=plain(f"How similar is “{question[:60]}” to each stored question?"),
                         xaxis_title="cosine similarity", xaxis_range=[min(0.0, min(s for _, s in nearest)), 1.0],
                         height=120 + 28 * len(nearest), margin={"l": 10, "r": 10, "t": 50, "b": 40})
    show_figure(figure, "lab_similarity")


# --- 2. your own pairs ---------------------------------------------------------------------------------------

def _your_pairs() -> None:
    from lab.calibrate import MAX_CSV_BYTES, MAX_PAIRS, PairsCsvError, measure, read_pairs_csv

    st.markdown("Measure the threshold's trade on **your** questions: a CSV with the columns `question1`, "
                "`question2` and `is_duplicate` (1 = the same question in other words, 0 = a different one). "
                f"At most {MAX_PAIRS:,} pairs; about 7 ms a question to embed.")
    upload = st.file_uploader("Labelled pairs (CSV)", type=["csv"], key="lab_pairs", max_upload_size=2)
    if upload is None:
        data, source = SAMPLE_PAIRS.read_bytes(), SAMPLE_PAIRS.name
        st.caption("Until you upload yours: 200 Quora pairs (assets/quora_pairs_sample200.csv), a sample of "
                   "the 20,000 the simulation's default curve was measured on.")
    else:
        data, source = upload.getvalue(), upload_name(upload)
    if len(data) > MAX_CSV_BYTES:
        st.error(f"{as_text(source)}: {len(data):,} bytes is not allowed: at most {MAX_CSV_BYTES:,}")
        return
    try:
        pairs = read_pairs_csv(data, source)
    except PairsCsvError as error:
        st.error(as_text(error))
        return
    if not st.button(f"Measure on {len(pairs):,} pairs", key="lab_measure", type="primary"):
        measured = st.session_state.get("lab_measured")
        if measured is None or measured[0] != source:
            return
    else:
        with st.spinner(f"Embedding {2 * len(pairs):,} questions..."):
            st.session_state["lab_measured"] = (source, measure(pairs, _embedder()))
    _show_curve(*st.session_state["lab_measured"])


def _show_curve(source: str, measured) -> None:
    from engine.curves import DEFAULT, curve_from_rates, keep
    from lab.semantic_cache import DEFAULT_THRESHOLD

    st.markdown(f"**{measured.duplicates:,}** duplicate and **{measured.others:,}** other pairs from "
                f"{as_text(source)}. ROC AUC **{measured.auc:.3f}**: the chance a duplicate pair scores above a "
                "different one (0.5 = no better than a coin; the Quora curve's is 0.868).")
    figure = go.Figure()
    for ys, name, colour in ((measured.hit_rate, "hit rate (rewordings answered)", "#2ca02c"),
                             (measured.false_hit_rate, "false-hit rate (wrong answers)", "#d62728")):
        figure.add_scatter(x=measured.thresholds, y=ys, name=plain(name) + ", yours", line={"color": colour})
    figure.add_scatter(x=DEFAULT.thresholds, y=DEFAULT.hit_rate, name="hit rate, Quora default",
                       line={"color": "#2ca02c", "dash": "dot"}, opacity=0.6)
    figure.add_scatter(x=DEFAULT.thresholds, y=DEFAULT.false_hit_rate, name="false-hit rate, Quora default",
                       line={"color": "#d62728", "dash": "dot"}, opacity=0.6)
    figure.update_layout(title="What each threshold would do on these pairs", xaxis_title="threshold",
                         yaxis_title="share of pairs", yaxis_range=[0, 1.02], xaxis_range=[0.4, 1.0], height=380,
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})
    threshold = st.session_state.get("lab_threshold", DEFAULT_THRESHOLD)
    figure.add_vline(x=threshold, line_dash="dash", line_color="#555",
                     annotation_text=f"threshold {threshold:.2f}", annotation_position="top left")
    show_figure(figure, "lab_curve")
    at = int(round(threshold * 100))
    quora_hit, quora_false = DEFAULT.rates(threshold)
    st.markdown(f"At the threshold **{threshold:.2f}** (the Ask tab's): **{measured.hit_rate[at]:.0%}** of your "
                f"rewordings answered and **{measured.false_hit_rate[at]:.0%}** of your other pairs answered "
                f"wrongly, against {quora_hit:.0%} and {quora_false:.0%} on the Quora pairs.")
    curve = curve_from_rates(measured.thresholds, measured.hit_rate, measured.false_hit_rate,
                             f"Measured on the Lab page from {source}: {measured.duplicates} duplicate and "
                             f"{measured.others} other pairs, all-MiniLM-L6-v2, ROC AUC {measured.auc:.3f}.")
    name = keep(curve)
    st.download_button("Download the curve (CSV)", curve.to_csv(), file_name=f"{name}.csv", mime="text/csv",
                       key="lab_curve_download")
    scenario = _semantic_scenario(name, source)
    st.link_button("Run the simulation's semantic cache on this curve (opens the Sandbox)",
                   app_link("sandbox", s=encode_link(scenario)))
    st.caption(f"The sandbox opens the GenAI stack with its semantic cache set to curve `{name}`. The app keeps "
               "the curve while it runs, and a saved scenario carries it for 30 days.")


def _semantic_scenario(curve_name: str, source: str):
    from engine.loading import derive, load_preset

    base = load_preset("genai_stack")
    return derive(base, {"cache": {"semantic": {"curve": curve_name}}, "name": "GenAI stack, your similarity curve",
                         "description": base.description.strip() + f" Its semantic cache's hit and false-hit rates "
                         f"come from {source[:80]}, measured on the Lab page."}, "Lab curve")


# --- 3. the limiter ---------------------------------------------------------------------------------------

def _the_limiter() -> None:
    from lab.limiter import Limits, TokenLimiter

    st.markdown("A provider limits each deployment to **requests** and **tokens per minute**. This token bucket "
                "runs as one Lua script inside Redis, so concurrent calls cannot both take the last tokens. Each "
                "call reserves its prompt plus its maximum output, and gets back what it did not use.")
    left, right = st.columns(2)
    tpm = left.number_input("Deployment tokens per minute", 1_000, 10_000_000, 30_000, 1_000, key="lab_tpm")
    rpm = left.number_input("Deployment requests per minute", 1, 100_000, 300, 10, key="lab_rpm")
    fired = right.number_input("Requests fired at once", 1, MAX_FIRED, 100, 10, key="lab_fired")
    prompt = right.number_input("Prompt tokens each", 0, 100_000, 500, 50, key="lab_prompt")
    max_output = right.number_input("Max output tokens each", 0, 100_000, 300, 50, key="lab_max_output")
    used = right.number_input("Output tokens each really uses", 0, 100_000, 120, 10, key="lab_used")
    if used > max_output:
        st.error(f"Output tokens each really uses: {used:,} is not allowed: at most the max output ({max_output:,})")
        return
    if not st.button(f"Fire {fired:,} requests at once", key="lab_fire", type="primary"):
        return
    limiter = TokenLimiter(_redis())
    limits = Limits(deployment_rpm=int(rpm), deployment_tpm=int(tpm))
    deployment = "lab-" + _tenant()
    limiter.reset("learner", deployment)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        decisions = list(pool.map(lambda _: limiter.reserve("learner", deployment, int(prompt), int(max_output),
                                                            limits), range(int(fired))))
    seconds = time.perf_counter() - started
    admitted = [d for d in decisions if d.admitted]
    cost = int(prompt) + int(max_output)
    span = max(d.at_s for d in decisions) - min(d.at_s for d in decisions)
    held = min(int(tpm) // cost if cost else int(fired), int(rpm))
    refill = (int(tpm) / 60 * span / cost if cost else 0)
    st.markdown(f"**{len(admitted):,} admitted, {len(decisions) - len(admitted):,} refused** in {seconds:.2f} s. "
                f"The full bucket held {int(tpm):,} tokens and {int(rpm):,} requests: "
                f"room for **{held:,}** calls of {cost:,} tokens, plus {refill:.2f} refilled during the "
                f"{span * 1000:.0f} ms the burst took.")
    _burst_chart(decisions)
    refused = [d for d in decisions if not d.admitted]
    if refused:
        first = min(refused, key=lambda d: d.at_s)
        waits = "never fits (the call is larger than the bucket)" if first.retry_after_s is None else (
            f"retry after {first.retry_after_s:.2f} s")
        st.markdown(f"The first refusal, by the **{as_text(first.refused_by)}** bucket: {waits}. Its headers, as "
                    "a provider sends them:")
        st.json(first.headers())
    refunded = sum(limiter.settle(d, "learner", deployment, int(used), limits) for d in admitted)
    st.markdown(f"Each admitted call used {int(used):,} of its {int(max_output):,} output tokens: "
                f"**{refunded:,.0f}** unused tokens went back to the bucket for the next calls.")


def _burst_chart(decisions) -> None:
    """Tokens left in the deployment's bucket after each call, in the order Redis decided them."""
    ordered = sorted(decisions, key=lambda d: d.at_s)
    start = ordered[0].at_s
    figure = go.Figure()
    for admitted, name, colour in ((True, "admitted", "#2ca02c"), (False, "refused (429)", "#d62728")):
        chosen = [d for d in ordered if d.admitted == admitted]
        figure.add_scatter(x=[(d.at_s - start) * 1000 for d in chosen],
                           y=[d.remaining.get("deployment TPM") for d in chosen], mode="markers", name=name,
                           marker={"color": colour, "size": 7})
    figure.update_layout(title="Tokens left in the deployment's bucket after each call", height=300,
                         xaxis_title="ms since the first call (Redis's clock)", yaxis_title="tokens left",
                         yaxis_rangemode="tozero", margin={"l": 10, "r": 10, "t": 50, "b": 40})
    show_figure(figure, "lab_burst")


def render_lab() -> None:
    st.title("Lab: the real cache and limiter")
    st.caption("Running for real on this server: all-MiniLM-L6-v2 embeddings on the CPU and Redis "
               "(an embedded one unless REDIS_URL is set). How they were chosen and measured: docs/lab.md.")
    ask, pairs, limiter = st.tabs(["Ask the cache", "Your own pairs", "Token limiter"])
    for tab, part in ((ask, _ask_the_cache), (pairs, _your_pairs), (limiter, _the_limiter)):
        with tab:
            _guarded(part)


def _guarded(part) -> None:
    """Draw one part; a Redis that does not answer or a missing model is said in words, and the rest still works."""
    import redis

    try:
        part()
    except redis.exceptions.RedisError as error:
        from lab.connection import where

        st.warning(f"Redis ({as_text(where(_redis()))}) is not answering ({as_text(type(error).__name__)}): "
                   "the lab needs it for this part. The simulation's pages keep working.",
                   icon=":material/cloud_off:")
    except RuntimeError as error:  # the embedding model is not installed
        st.error(as_text(error))


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_lab()
