from __future__ import annotations

import random

from gateway_shim.simulated_provider.faults import parse_fault
from gateway_shim.simulated_provider.simulated_model import SimulatedModel, converse_prompt, openai_prompt

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "summarise the ticket"}]


def _run(seed: int) -> list[tuple[object, ...]]:
    model = SimulatedModel(seed=seed)
    model.faults.set(parse_fault({"model": "gpt-4o-mini", "error_rate": 0.3}, 0.0))
    answers = []
    for i in range(40):
        r = model.respond("gpt-4o-mini", [{"role": "user", "content": f"question {i % 7}"}], 500, 0.0)
        answers.append((r.status, r.output_tokens, round(r.ttft_ms, 6), round(r.total_ms, 6), r.text))
    return answers


def test_same_seed_same_answers_statuses_and_timings() -> None:
    assert _run(42) == _run(42)


def test_another_seed_gives_other_answers() -> None:
    assert _run(42) != _run(43)


def test_order_of_different_prompts_does_not_change_their_answers() -> None:
    a, b = SimulatedModel(seed=1), SimulatedModel(seed=1)
    p, q = [{"role": "user", "content": "p"}], [{"role": "user", "content": "q"}]
    a_p, a_q = a.respond("m", p, None, 0.0), a.respond("m", q, None, 0.0)
    b_q, b_p = b.respond("m", q, None, 0.0), b.respond("m", p, None, 0.0)
    assert (a_p, a_q) == (b_p, b_q)


def test_output_is_bounded_by_max_tokens() -> None:
    model = SimulatedModel(seed=0)
    lengths = []
    for i in range(100):
        r = model.respond("anthropic.claude-3-7-sonnet-v1", [{"role": "user", "content": str(i)}], 400, 0.0)
        assert r.output_tokens <= 400
        assert r.finish_reason == ("length" if r.output_tokens == 400 else "stop")
        assert len(r.text.split()) == r.output_tokens
        lengths.append(r.output_tokens)
    assert len(set(lengths)) > 20 and 400 in lengths  # lengths vary with the prompt; some are cut


def test_input_tokens_grow_with_the_prompt() -> None:
    model = SimulatedModel()
    short = model.respond("m", [{"role": "user", "content": "hi"}], 10, 0.0)
    long = model.respond("m", [{"role": "user", "content": "hi " * 1000}], 10, 0.0)
    assert long.input_tokens > short.input_tokens + 500


def test_openai_and_converse_forms_of_one_prompt_answer_alike() -> None:
    converse = [{"role": "user", "content": [{"text": "summarise the ticket"}]}]
    assert openai_prompt(MESSAGES) == converse_prompt(converse, [{"text": "be brief"}])


def test_pieces_join_to_the_text() -> None:
    r = SimulatedModel(seed=3).respond("gpt-4o-mini", MESSAGES, None, 0.0)
    assert "".join(r.pieces(4)) == r.text
    assert len(r.pieces(4)) == -(-r.output_tokens // 4)


def test_faults_turn_into_failed_responses_without_output() -> None:
    model = SimulatedModel()
    model.faults.set(parse_fault({"model": "m", "throttle_rate": 1.0, "added_latency_ms": 25}, 0.0))
    r = model.respond("m", MESSAGES, None, 0.0)
    assert (r.ok, r.kind, r.status, r.output_tokens) == (False, "throttle", 429, 0)
    assert r.total_ms >= 25 and "throttl" in r.error_message()


def test_simulator_entry_point_uses_the_given_generator() -> None:
    model = SimulatedModel(seed=9)
    first, again = (model.respond_to("m", input_tokens=300, digest=12345, max_tokens=None, now=0.0,
                                     rng=random.Random(1)) for _ in range(2))
    assert first == again and first.input_tokens == 300
