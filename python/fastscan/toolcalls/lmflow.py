"""LMFlow conversation datasets: what ``fastscan extract --emit lmflow`` writes.

LMFlow reads a dataset as ``.json`` files holding ``{"type": "conversation", "instances":
[...]}``. Each instance has ``messages``, a list of ``{"role": "user" | "assistant",
"content": str}`` that starts with a user turn and alternates user / assistant in pairs, no
content empty; optionally ``conversation_id``, ``system`` (a string) and ``tools`` (a list of
strings). `problems` states those rules; `conversation` renders a checked OpenAI-shaped
training record into an instance, one way for every record:

* the tools: each tool's function object (name, description, parameters) as a JSON string;
* a system message: ``system``;
* an assistant turn that calls tools: its text (if any), then one ``<tool_call>`` block per
  call holding ``{"name": ..., "arguments": {...}}`` (arguments as an object when they parse);
* a tool result: a user turn ``<tool_response>`` block holding the result text;
* consecutive turns of one role (a call's results, say) are joined by a blank line.

A record that cannot become a valid conversation (no user turn before the first answer, no
assistant turn, an empty turn) is not emitted: `conversation` returns the reason.
"""

from __future__ import annotations

import json
from typing import Any

TYPE = "conversation"
ROLES = ("user", "assistant")


def problems(document: Any) -> list[str]:
    """Every way `document` breaks LMFlow's conversation format (empty when it loads)."""
    if not isinstance(document, dict):
        return ["the file is not a JSON object"]
    found = []
    if document.get("type") != TYPE:
        found.append(f"type is {document.get('type')!r}, not {TYPE!r}")
    instances = document.get("instances")
    if not isinstance(instances, list):
        return [*found, "instances is not a list"]
    for i, instance in enumerate(instances):
        found += [f"instances[{i}]: {p}" for p in instance_problems(instance)]
    return found


def instance_problems(instance: Any) -> list[str]:
    """Every way one instance breaks the format."""
    if not isinstance(instance, dict):
        return ["not an object"]
    found = []
    if "system" in instance and not isinstance(instance["system"], str):
        found.append("system is not a string")
    tools = instance.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        found.append("tools is not a list of strings")
    messages = instance.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*found, "no messages"]
    if len(messages) % 2:
        found.append(f"{len(messages)} messages: turns come in user / assistant pairs")
    for k, message in enumerate(messages):
        want = ROLES[k % 2]
        if not isinstance(message, dict):
            found.append(f"messages[{k}] is not an object")
            continue
        if message.get("role") != want:
            found.append(f"messages[{k}] has role {message.get('role')!r}, not {want!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            found.append(f"messages[{k}] has no content")
    return found


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _call_text(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    body = {"name": function.get("name"), "arguments": _arguments(function.get("arguments"))}
    return "<tool_call>\n" + json.dumps(body, ensure_ascii=False) + "\n</tool_call>"


def _turn(message: dict[str, Any]) -> tuple[str, str] | None:
    """A message as (LMFlow role, text); None for the system message."""
    role = message.get("role")
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    if role == "system":
        return None
    if role == "tool":
        return "user", f"<tool_response>\n{text}\n</tool_response>"
    if role == "assistant":
        calls = [_call_text(c) for c in message.get("tool_calls") or []]
        return "assistant", "\n".join(part for part in (text.strip(), *calls) if part)
    return "user", text


def conversation(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """An OpenAI-shaped record as an LMFlow instance, or None and why it cannot be one."""
    messages = record.get("messages") or []
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    turns: list[dict[str, str]] = []
    for message in messages:
        turn = _turn(message)
        if turn is None:
            continue
        role, text = turn
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    if not turns or turns[0]["role"] != "user":
        return None, "no_user_turn"
    if turns[-1]["role"] == "user":
        turns.pop()  # a question left unanswered is not a training pair
    if not turns:
        return None, "no_assistant_turn"
    if any(not t["content"].strip() for t in turns):
        return None, "empty_turn"
    instance: dict[str, Any] = {}
    if isinstance(system, str) and system.strip():
        instance["system"] = system
    tools = [t.get("function", t) for t in record.get("tools") or []]
    instance["tools"] = [json.dumps(t, ensure_ascii=False) for t in tools]
    instance["messages"] = turns
    found = instance_problems(instance)
    if found:  # by construction never; a guard so a bad instance is counted, not written
        return None, "invalid: " + found[0]
    return instance, None


def document(instances: list[dict[str, Any]]) -> str:
    """The ``.json`` file of `instances`, ids ``0``, ``1``, ... in order."""
    numbered = [{"conversation_id": str(i), **inst} for i, inst in enumerate(instances)]
    return json.dumps({"type": TYPE, "instances": numbered}, ensure_ascii=False, indent=1) + "\n"
