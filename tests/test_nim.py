"""The self-hosted defaults reproduce NVIDIA's published benchmark of the model they describe.

NVIDIA NIM, Llama-3.3-70B fp8 on 2xH100 (TP2), 5,000 input / 500 output tokens, fixed concurrency
(docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance). Measured with genai-perf's closed loop:
each of N users sends its next request when the last is answered. Inter-token latency and output
throughput must be within 10 % at every concurrency (serving simulators report 2-9 % against real
hardware); the time to first token must show the knee where calls start to wait for KV-cache room.
"""

import pytest

from engine import Budget, Simulation
from tests.helpers import scenario

# concurrency: (TTFT s, ITL ms, output tokens/s)
NIM = {1: (0.407, 18.6, 52), 25: (0.689, 38.8, 623), 50: (0.835, 59.7, 814), 100: (7.996, 92.9, 917),
       200: (61.680, 93.1, 921)}


def benchmark(users: int, warmup_s: float = 300, measure_s: float = 900) -> tuple[float, float, float]:
    """Return (mean TTFT s, ITL ms, output tokens/s) of the default self-hosted LLM under `users` closed-loop users."""
    scn = scenario(traffic={"rate_rps": None, "closed_loop": {"users": users}, "client_timeout_s": None,
                            "tokens": {"kind": "fixed", "prompt_tokens": 5000, "output_tokens": 500}},
                   web={"handler_ms": {"dist": "constant", "value_ms": 0}, "workers": 1000, "accept_queue": None},
                   llm={"kind": "self_hosted"})
    sim = Simulation(scn, Budget(max_wall_s=120))
    sim.advance(warmup_s)
    sim.restart_summary()
    summary = sim.run(measure_s)
    itl_ms = (summary["latency_mean_s"] - summary["ttft_mean_s"]) / 499 * 1000
    return summary["ttft_mean_s"], itl_ms, summary["output_tokens"] / measure_s


@pytest.fixture(scope="module")
def measured():
    return {users: benchmark(users) for users in NIM}


@pytest.mark.parametrize("users", list(NIM))
def test_inter_token_latency_and_throughput_within_10_percent(measured, users):
    _, itl_ms, tokens_per_s = measured[users]
    _, nim_itl, nim_tokens = NIM[users]
    assert itl_ms == pytest.approx(nim_itl, rel=0.10)
    assert tokens_per_s == pytest.approx(nim_tokens, rel=0.10)


def test_time_to_first_token_jumps_once_the_kv_cache_is_full(measured):
    # 82 calls of 5,500 tokens fit in the KV cache: at 50 users none waits, at 100 some do.
    assert measured[1][0] == pytest.approx(NIM[1][0], rel=0.10)
    assert measured[50][0] < 1.0
    assert measured[100][0] >= 5 * measured[50][0]
    assert measured[200][0] > 5 * measured[100][0]
