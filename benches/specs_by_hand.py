"""Documents in the public spec formats, written here by hand, each with the specs it holds
(name -> parameters, required): the truth `extract_quality.py` measures extraction against."""

from __future__ import annotations

import json

DOCS: list[tuple[str, str, dict[str, dict[str, list[str]]]]] = []


def add(fmt: str, text: str, want: dict[str, dict[str, list[str]]]) -> None:
    DOCS.append((fmt, text, want))


def spec(params: list[str], required: list[str]) -> dict[str, list[str]]:
    return {"params": sorted(params), "required": sorted(required)}


add(
    "openai tools",
    "Register these tools with the client:\n\n```json\n"
    + json.dumps(
        [
            {
                "type": "function",
                "function": {
                    "name": "create_invoice",
                    "description": "Bill a customer.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "customer_id": {"type": "string"},
                            "amount_cents": {"type": "integer"},
                            "memo": {"type": "string"},
                        },
                        "required": ["customer_id", "amount_cents"],
                    },
                },
            },
            {
                "type": "function",
                "function": {
                    "name": "void_invoice",
                    "description": "Cancel an invoice.",
                    "parameters": {
                        "type": "object",
                        "properties": {"invoice_id": {"type": "string"}},
                        "required": ["invoice_id"],
                    },
                },
            },
        ],
        indent=2,
    )
    + "\n```\n",
    {
        "create_invoice": spec(
            ["customer_id", "amount_cents", "memo"], ["customer_id", "amount_cents"]
        ),
        "void_invoice": spec(["invoice_id"], ["invoice_id"]),
    },
)
add(
    "bfcl function doc",
    "Question: what is the area of a circle of radius 4?\nFunction: "
    + json.dumps(
        {
            "name": "geometry.circle_area",
            "description": "Area of a circle.",
            "parameters": {
                "type": "dict",
                "properties": {
                    "radius": {"type": "float", "description": "The radius."},
                    "units": {"type": "string", "description": "Unit of length."},
                },
                "required": ["radius"],
            },
        }
    ),
    {"geometry.circle_area": spec(["radius", "units"], ["radius"])},
)
add(
    "xlam flat map",
    "Tools: "
    + json.dumps(
        [
            {
                "name": "hotel_search",
                "description": "Find hotels.",
                "parameters": {
                    "city": {"type": "str", "description": "City"},
                    "nights": {"type": "int, default=1", "description": "Nights"},
                    "stars": {"type": "int, optional", "description": "Stars"},
                },
            }
        ]
    )
    + '\nAnswer: [{"name": "hotel_search", "arguments": {"city": "Lima"}}]',
    {"hotel_search": spec(["city", "nights", "stars"], ["city"])},
)
add(
    "toolbench",
    json.dumps(
        {
            "api_name": "currency_rates",
            "api_description": "Latest rates.",
            "required_parameters": [
                {"name": "base", "type": "STRING", "description": "Base currency"}
            ],
            "optional_parameters": [{"name": "symbols", "type": "STRING", "description": "Filter"}],
        }
    ),
    {"currency_rates": spec(["base", "symbols"], ["base"])},
)
add(
    "api zoo entry",
    json.dumps(
        {
            "api_name": "tickets.create",
            "api_call": "desk.tickets().create(body=b).execute()",
            "api_arguments": {
                "subject": "[REQUIRED] string: Title",
                "priority": "[OPTIONAL] integer: 1 to 5",
            },
        }
    ),
    {"tickets.create": spec(["subject", "priority"], ["subject"])},
)
add(
    "tool_name with a required list",
    json.dumps(
        {
            "tool_name": "translate_text",
            "description": "Translate.",
            "parameters": {
                "text": {"type": "string"},
                "target": {"type": "string"},
                "source": {"type": "string"},
            },
            "required": ["text", "target"],
        }
    ),
    {"translate_text": spec(["text", "target", "source"], ["text", "target"])},
)
add(
    "parameter list",
    json.dumps(
        {
            "func_name": "book_table",
            "description": "Reserve a table.",
            "parameters": [
                {"name": "restaurant", "type": "string", "required": True},
                {"name": "party_size", "type": "integer", "required": True},
                {"name": "time", "type": "string"},
            ],
        }
    ),
    {"book_table": spec(["restaurant", "party_size", "time"], ["restaurant", "party_size"])},
)
add(
    "anthropic input_schema",
    "Tool definition:\n"
    + json.dumps(
        {
            "name": "lookup_order",
            "description": "Order status.",
            "input_schema": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        }
    ),
    {"lookup_order": spec(["order_id"], ["order_id"])},
)
add(
    "openapi",
    "```json\n"
    + json.dumps(
        {
            "openapi": "3.0.0",
            "info": {"title": "Notes", "version": "1"},
            "paths": {
                "/notes/{id}": {
                    "get": {
                        "operationId": "getNote",
                        "parameters": [
                            {
                                "name": "id",
                                "in": "path",
                                "required": True,
                                "schema": {"type": "integer"},
                            },
                            {"name": "fields", "in": "query", "schema": {"type": "string"}},
                        ],
                    }
                }
            },
        },
        indent=1,
    )
    + "\n```\n",
    {"getNote": spec(["id", "fields"], ["id"])},
)
add(
    "python docstring",
    "def resize_image(path: str, width: int, height: int = 0) -> bytes:\n"
    '    """Resize an image.\n\n    Args:\n        path: The file.\n        width: New width.\n'
    '        height: New height (0 keeps the ratio).\n    """\n',
    {"resize_image": spec(["path", "width", "height"], ["path", "width"])},
)
add(
    "markdown table",
    "## `list_repos`\n\nLists repositories.\n\n| Parameter | Type | Required | Description |\n"
    "|---|---|---|---|\n| owner | string | yes | Account |\n"
    "| per_page | integer | no | Page size |\n",
    {"list_repos": spec(["owner", "per_page"], ["owner"])},
)
add(
    "prose without a spec",
    "We went to the market and bought apples, then wrote about it. No API here.",
    {},
)
