"""The simulated provider's native wires beyond chat: OpenAI embeddings, Bedrock InvokeModel bodies
(Anthropic Messages on Bedrock, Titan embeddings) with their response stream, and minimal answers
to ``CountTokens`` and ``ApplyGuardrail``. Usage is always reported, as the real services do.
"""

from __future__ import annotations

import base64
import math
import random
import struct
from typing import Any

import orjson

from gateway_shim.simulated_provider.simulated_model import SimResponse, count_tokens
from gateway_shim.simulated_provider.wire_openai import BadRequest
from gateway_shim.wire.eventstream import encode_event

DEFAULT_DIMENSIONS = 16
MAX_DIMENSIONS = 4096
ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens"}


def vector(seed: int, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for (seed, text)."""
    rng = random.Random(f"{seed}\x00{text}")
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def _dimensions(doc: dict[str, Any]) -> int:
    value = doc.get("dimensions", DEFAULT_DIMENSIONS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSIONS:
        raise BadRequest(f"dimensions must be an integer from 1 to {MAX_DIMENSIONS}")
    return value


# ---- OpenAI /v1/embeddings --------------------------------------------------------------------------

def embedding_inputs(doc: dict[str, Any]) -> list[str]:
    """The inputs as text (token arrays are rendered as their numbers: they only need a digest)."""
    value = doc.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):
            return [" ".join(map(str, value))]
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and all(isinstance(t, int) for t in item):
                out.append(" ".join(map(str, item)))
            else:
                raise BadRequest("input items must be strings or arrays of token ids")
        return out
    raise BadRequest("input must be a non-empty string or array")


def openai_embeddings(doc: dict[str, Any], seed: int) -> bytes:
    inputs = embedding_inputs(doc)
    dimensions = _dimensions(doc)
    packed = doc.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        values = vector(seed, text, dimensions)
        embedding: Any = values
        if packed:
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(count_tokens(text, 0) - 3 for text in inputs)
    return orjson.dumps({"object": "list", "data": data, "model": str(doc.get("model", "")),
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


# ---- Bedrock InvokeModel ------------------------------------------------------------------------------

def titan_embedding(doc: dict[str, Any], seed: int) -> tuple[bytes, int]:
    text = doc.get("inputText")
    if not isinstance(text, str) or not text:
        raise BadRequest("inputText must be a non-empty string")
    tokens = count_tokens(text, 0) - 3
    answer = {"embedding": vector(seed, text, _dimensions(doc)), "inputTextTokenCount": tokens}
    return orjson.dumps(answer), tokens


def anthropic_prompt(doc: dict[str, Any]) -> tuple[str, int, int]:
    """(flattened prompt, message count, max_tokens) of an Anthropic Messages body on Bedrock."""
    if doc.get("anthropic_version") != "bedrock-2023-05-31":
        raise BadRequest("anthropic_version must be 'bedrock-2023-05-31'")
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("messages must be a non-empty list of messages")
    max_tokens = doc.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens must be a positive integer")
    for field in ("model", "stream"):
        if field in doc:
            raise BadRequest(f"Extraneous key [{field}] is not permitted")
    system = doc.get("system")
    lines = [f"system:{_text(system)}"] if system else []
    lines += [f"{m.get('role', '')}:{_text(m.get('content'))}" for m in messages]
    return "\n".join(lines), len(lines), max_tokens


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def wants_tool(doc: dict[str, Any]) -> str | None:
    """The first offered tool's name when the model should call it: tools offered and the last user
    turn is not already a tool result."""
    tools = doc.get("tools")
    if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
        return None
    last = doc["messages"][-1].get("content")
    if isinstance(last, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in last):
        return None
    name = tools[0].get("name")
    return name if isinstance(name, str) else None


def _message_id(sim: SimResponse) -> str:
    return f"msg_bdrk_{sim.digest:016x}"


def anthropic_message(sim: SimResponse, model: str, tool: str | None) -> bytes:
    if tool is not None:
        content: list[dict[str, Any]] = [{"type": "tool_use", "id": f"toolu_sim_{sim.digest:016x}",
                                          "name": tool, "input": {}}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": sim.text}]
        stop = ANTHROPIC_STOP.get(sim.finish_reason, "end_turn")
    return orjson.dumps({
        "id": _message_id(sim), "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": sim.input_tokens, "output_tokens": sim.output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    })


Headers = tuple[tuple[bytes, bytes], ...]


def token_headers(input_tokens: int, output_tokens: int, latency_ms: float) -> Headers:
    return ((b"x-amzn-bedrock-input-token-count", str(input_tokens).encode()),
            (b"x-amzn-bedrock-output-token-count", str(output_tokens).encode()),
            (b"x-amzn-bedrock-invocation-latency", str(round(latency_ms)).encode()))


def chunk(event: dict[str, Any]) -> bytes:
    """One InvokeModelWithResponseStream ``chunk`` carrying one Anthropic stream event."""
    return encode_event("chunk", orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()}))


def stream_start(sim: SimResponse, model: str) -> bytes:
    message: dict[str, Any] = {
        "id": _message_id(sim), "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": sim.input_tokens, "output_tokens": 1,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    return (chunk({"type": "message_start", "message": message})
            + chunk({"type": "content_block_start", "index": 0,
                     "content_block": {"type": "text", "text": ""}}))


def stream_delta(piece: str) -> bytes:
    return chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})


def stream_end(sim: SimResponse, latency_ms: float) -> bytes:
    stop = ANTHROPIC_STOP.get(sim.finish_reason, "end_turn")
    return (chunk({"type": "content_block_stop", "index": 0})
            + chunk({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                     "usage": {"output_tokens": sim.output_tokens}})
            + chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": sim.input_tokens, "outputTokenCount": sim.output_tokens,
                "invocationLatency": round(latency_ms), "firstByteLatency": round(sim.ttft_ms)}}))


# ---- other bedrock-runtime operations -----------------------------------------------------------------

def count_tokens_prompt(doc: dict[str, Any]) -> tuple[str, int]:
    """The prompt a ``CountTokens`` body holds, flattened like the other wires do."""
    source = doc.get("input")
    if not isinstance(source, dict):
        raise BadRequest("input must be an object with 'invokeModel' or 'converse'")
    converse = source.get("converse")
    if isinstance(converse, dict):
        messages = converse.get("messages") or []
        system = converse.get("system") or []
        lines = [f"system:{_text(system)}"] if system else []
        lines += [f"{m.get('role', '')}:{_text(m.get('content'))}" for m in messages if isinstance(m, dict)]
        return "\n".join(lines), len(lines)
    invoke = source.get("invokeModel")
    if isinstance(invoke, dict) and isinstance(invoke.get("body"), str):
        try:
            body = orjson.loads(base64.b64decode(invoke["body"]))
        except (ValueError, orjson.JSONDecodeError):
            raise BadRequest("input.invokeModel.body must be base64 of a JSON model body") from None
        text, count, _ = anthropic_prompt(body)
        return text, count
    raise BadRequest("input must hold 'invokeModel' or 'converse'")


def guardrail_answer(doc: dict[str, Any]) -> bytes:
    """``ApplyGuardrail`` that never intervenes; its usage counts text units (1 per 1000 characters)."""
    content = doc.get("content")
    if not isinstance(content, list):
        raise BadRequest("content must be a list of guardrail content blocks")
    chars = sum(len(str((block.get("text") or {}).get("text", "")))
                for block in content if isinstance(block, dict))
    units = max(1, math.ceil(chars / 1000))
    usage = {"topicPolicyUnits": units, "contentPolicyUnits": units, "wordPolicyUnits": units,
             "sensitiveInformationPolicyUnits": units, "sensitiveInformationPolicyFreeUnits": 0,
             "contextualGroundingPolicyUnits": 0}
    return orjson.dumps({"usage": usage, "action": "NONE", "outputs": [], "assessments": [],
                         "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}}})


# ---- async invokes: accepted and "completed" at once, kept in memory -------------------------------

MAX_ASYNC_JOBS = 1000


def start_async_invoke(doc: dict[str, Any], jobs: dict[str, dict[str, Any]], now_iso: str) -> bytes:
    """``StartAsyncInvoke``: a job that is already ``Completed`` (nothing is generated)."""
    model = doc.get("modelId")
    output = doc.get("outputDataConfig")
    if not isinstance(model, str) or not model or not isinstance(output, dict) or "modelInput" not in doc:
        raise BadRequest("modelId, modelInput and outputDataConfig are required")
    arn = f"arn:aws:bedrock:us-east-1:000000000000:async-invoke/{len(jobs) + 1:012x}"
    if len(jobs) >= MAX_ASYNC_JOBS:
        jobs.pop(next(iter(jobs)))
    jobs[arn] = {"invocationArn": arn, "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
                 "status": "Completed", "submitTime": now_iso, "endTime": now_iso,
                 "outputDataConfig": output}
    return orjson.dumps({"invocationArn": arn})
