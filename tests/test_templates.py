"""Templates: common GenAI applications to start from. Each loads through the door, says where its numbers
come from, runs healthy as it stands, and the first thing its README suggests trying does what it says."""

import re

import pytest

from engine import Simulation, derive
from engine.loading import ScenarioError, list_templates, load_template, template_readme
from engine.paths import TEMPLATES_DIR

NAMES = [name for name, _ in list_templates()]


def measured(scenario, seconds: float = 600, warmup: float = 120, seed: int = 1) -> dict:
    sim = Simulation(derive(scenario, {"seed": seed}, "seeded"), history_windows=1)
    sim.advance(warmup)
    sim.restart_summary()
    return sim.run(seconds)


def test_the_four_applications_the_issue_names_are_there_with_a_readme():
    assert NAMES == ["batch-summarisation", "chat-assistant", "coding-assistant", "rag-support-bot"]
    for name in NAMES:
        readme = template_readme(name)
        assert readme.startswith("# ") and "**The traffic.**" in readme and "**Try.**" in readme
        assert name in (TEMPLATES_DIR / "README.md").read_text()
    with pytest.raises(ScenarioError, match="template: '../presets' is not allowed"):
        load_template("../presets")


@pytest.mark.parametrize("name", NAMES)
def test_every_number_in_a_template_names_where_it_comes_from(name):
    header = "".join(line for line in (TEMPLATES_DIR / name / "scenario.yaml").read_text().splitlines(True)
                     if line.startswith("#"))
    assert "docs/sources.md" in header and "assumption" in header
    cited = set(re.findall(r"docs/sources\.md, ([A-Z][A-Za-z ]+?)[);]", header))
    sections = set(re.findall(r"^## (.+)$", (TEMPLATES_DIR.parent / "docs" / "sources.md").read_text(), re.M))
    assert cited and cited <= sections, cited - sections


@pytest.mark.parametrize("name", NAMES)
def test_a_template_runs_healthy_as_it_stands(name):
    for seed in (1, 2):
        summary = measured(load_template(name), seed=seed)
        assert summary["arrivals"] > 200 and summary["completions"] > 0
        assert summary["error_rate"] <= 0.02, (name, seed, summary["error_rate"])


def test_chat_more_turns_mean_longer_prompts_a_larger_bill_and_a_later_first_token():
    chat = load_template("chat-assistant")
    longer = derive(chat, {"traffic": {"conversation": {"turns": 16}}}, "16 turns")
    before, after = measured(chat), measured(longer)
    assert after["usd_per_1k_requests"] > 1.2 * before["usd_per_1k_requests"]
    assert after["ttft_p95_s"] > before["ttft_p95_s"]


def test_coding_at_tier_two_the_bursts_reach_the_token_limit():
    coding = load_template("coding-assistant")
    tier2 = derive(coding, {"llm": {"limits": {"tokens_per_minute": 450_000}}}, "tier 2")
    before, after = measured(coding), measured(tier2)
    assert after["error_rate"] > before["error_rate"] + 0.05
    assert after["llm_retries"] > 0  # the gateway's 429s, retried as the SDKs do, until the editor gives up


def test_rag_a_lower_threshold_cuts_the_token_bill_and_doubles_the_wrong_answers():
    rag = load_template("rag-support-bot")
    lower = derive(rag, {"cache": {"semantic": {"threshold": 0.8}}}, "0.8")
    before, after = measured(rag, 1200), measured(lower, 1200)
    assert after["usd_tokens"] < before["usd_tokens"]
    assert after["wrong_answer_rate"] > 2 * before["wrong_answer_rate"]


def test_batch_more_llm_replicas_more_documents_an_hour():
    batch = load_template("batch-summarisation")
    more = derive(batch, {"llm": {"replicas": 4}}, "4 replicas")
    assert measured(more)["throughput_rps"] > 1.3 * measured(batch)["throughput_rps"]
