"""One weather conversation written in every tool-call format, by hand from each format's
public description (no dataset copied): the fixtures detection and reading are tested on.

Every record holds the same conversation: a system prompt, a user question, one call of
``get_weather(city="Paris", days=3)``, its result, and the answer. Formats without a system
prompt or results (xLAM) hold the part they can, listed in PARTS.
"""

from __future__ import annotations

import json
from typing import Any

TOOL_OPENAI: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer", "description": "Days ahead"},
            },
            "required": ["city"],
        },
    },
}
SPEC: dict[str, Any] = TOOL_OPENAI["function"]
SYSTEM = "You are a weather assistant."
QUESTION = "What's the weather in Paris for 3 days?"
RESULT = '{"temp": 21}'
ANSWER = "Sunny, 21 degrees."
ARGS = {"city": "Paris", "days": 3}

FIXTURES: dict[str, dict[str, Any]] = {
    "openai": {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": json.dumps(ARGS)},
                    }
                ],
            },
            {"role": "tool", "content": RESULT},
            {"role": "assistant", "content": ANSWER},
        ],
        "tools": [TOOL_OPENAI],
    },
    "openai_functions": {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "get_weather", "arguments": json.dumps(ARGS)},
            },
            {"role": "function", "content": RESULT},
            {"role": "assistant", "content": ANSWER},
        ],
        "functions": [SPEC],
    },
    "hermes": {
        "conversations": [
            {
                "from": "system",
                "value": SYSTEM + "\n<tools>\n" + json.dumps([TOOL_OPENAI]) + "\n</tools>",
            },
            {"from": "human", "value": QUESTION},
            {
                "from": "gpt",
                "value": "<tool_call>\n"
                + json.dumps({"name": "get_weather", "arguments": ARGS})
                + "\n</tool_call>",
            },
            {
                "from": "tool",
                "value": "<tool_response>\n"
                + json.dumps({"content": RESULT})
                + "\n</tool_response>",
            },
            {"from": "gpt", "value": ANSWER},
        ]
    },
    "toolace": {
        "system": SYSTEM
        + " Here is a list of functions in JSON format that you can invoke:\n"
        + json.dumps([{**SPEC, "parameters": {**SPEC["parameters"], "type": "dict"}}]),
        "conversations": [
            {"from": "user", "value": QUESTION},
            {"from": "assistant", "value": '[get_weather(city="Paris", days=3)]'},
            {"from": "tool", "value": RESULT},
            {"from": "assistant", "value": ANSWER},
        ],
    },
    "xlam": {
        "id": 1,
        "query": QUESTION,
        "tools": json.dumps(
            [
                {
                    "name": "get_weather",
                    "description": "Weather forecast for a city",
                    "parameters": {
                        "city": {"type": "str", "description": "City name"},
                        "days": {"type": "int, optional", "description": "Days ahead"},
                    },
                }
            ]
        ),
        "answers": json.dumps([{"name": "get_weather", "arguments": ARGS}]),
    },
    "glaive": {
        "system": "SYSTEM: " + SYSTEM + " Use them if required -\n" + json.dumps(SPEC, indent=4),
        "chat": f"USER: {QUESTION}\n\n\nASSISTANT: <functioncall> "
        + '{"name": "get_weather", "arguments": \''
        + json.dumps(ARGS)
        + "'} <|endoftext|>\n\n\n"
        + f"FUNCTION RESPONSE: {RESULT}\n\n\nASSISTANT: {ANSWER} <|endoftext|>\n\n\n",
    },
    "sharegpt": {
        "conversations": [
            {"from": "human", "value": QUESTION},
            {
                "from": "function_call",
                "value": json.dumps({"name": "get_weather", "arguments": ARGS}),
            },
            {"from": "observation", "value": RESULT},
            {"from": "gpt", "value": ANSWER},
        ],
        "system": SYSTEM,
        "tools": json.dumps([SPEC]),
    },
    "lmflow": {
        "conversation_id": 1,
        "system": SYSTEM,
        "tools": [json.dumps(SPEC)],
        "messages": [
            {"role": "user", "content": QUESTION},
            {"role": "function", "content": json.dumps({"name": "get_weather", "arguments": ARGS})},
            {"role": "observation", "content": RESULT},
            {"role": "assistant", "content": ANSWER},
        ],
    },
    "xml": {
        "system": SYSTEM,
        "tools": [
            {
                "name": "get_weather",
                "description": SPEC["description"],
                "input_schema": SPEC["parameters"],
            }
        ],
        "messages": [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": '<function_calls>\n<invoke name="get_weather">\n'
                '<parameter name="city">Paris</parameter>\n<parameter name="days">3</parameter>\n'
                "</invoke>\n</function_calls>",
            },
            {
                "role": "user",
                "content": "<function_results>\n<result>\n<stdout>\n"
                + RESULT.replace('"', "&quot;")
                + "\n</stdout>\n</result>\n</function_results>",
            },
            {"role": "assistant", "content": ANSWER},
        ],
    },
    "yaml": {
        "yaml": "tools:\n- name: get_weather\n  description: Weather forecast for a city\n"
        "  parameters:\n"
        "    type: object\n    properties:\n      city: {type: string, description: City name}\n"
        "      days: {type: integer, description: Days ahead}\n    required: [city]\n"
        "messages:\n- {role: system, content: You are a weather assistant.}\n"
        '- role: user\n  content: "What\'s the weather in Paris for 3 days?"\n'
        "- role: assistant\n  content: ''\n  calls:\n  - name: get_weather\n"
        "    arguments: {city: Paris, days: 3}\n"
        "- role: tool\n  content: '{\"temp\": 21}'\n"
        "- {role: assistant, content: 'Sunny, 21 degrees.'}\n"
    },
}

#: The parts of the conversation each format holds (xLAM: the query and the call only).
FULL = ("system", "user", "call", "result", "answer")
PARTS: dict[str, tuple[str, ...]] = {name: FULL for name in FIXTURES}
PARTS["xlam"] = ("user", "call")
#: The system text as read, where the format's prompt wraps the tool list in words of its own.
SYSTEM_TEXT: dict[str, str] = {
    "toolace": SYSTEM + " Here is a list of functions in JSON format that you can invoke:",
    "glaive": SYSTEM + " Use them if required -",
}


def expected_canonical(parts: tuple[str, ...], system: str = SYSTEM) -> dict[str, Any]:
    """The canonical record of the conversation's `parts`."""
    messages: list[dict[str, Any]] = []
    if "system" in parts:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": QUESTION})
    messages.append(
        {"role": "assistant", "content": "", "calls": [{"name": "get_weather", "arguments": ARGS}]}
    )
    if "result" in parts:
        messages.append({"role": "tool", "content": RESULT})
    if "answer" in parts:
        messages.append({"role": "assistant", "content": ANSWER})
    return {"messages": messages, "tools": [SPEC]}
