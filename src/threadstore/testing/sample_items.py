"""One conversation item of every type the Conversations API lists, as a server stores it.

The suite stores each one and reads it back unchanged; the models' own tests check that
the ``openai`` SDK parses every one as the type it names. The four types threadstore
models field by field come with every content part they may hold.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELLED", "SAMPLE_ITEMS"]

_FUNCTION_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}

SAMPLE_ITEMS: dict[str, dict[str, Any]] = {
    "message": {
        "id": "msg_sample",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [
            {"type": "input_text", "text": "What is in these? 🧐"},
            {"type": "input_image", "detail": "low", "image_url": "https://example.com/a.png"},
            {"type": "input_image", "detail": "auto", "file_id": "file_img"},
            {"type": "input_file", "file_id": "file_doc", "filename": "doc.pdf"},
            {"type": "input_file", "file_data": "data:text/plain;base64,aGk=", "filename": "a"},
        ],
    },
    "function_call": {
        "id": "fc_sample",
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "status": "completed",
    },
    "function_call_output": {
        "id": "fco_sample",
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"temperature": 21}',
        "status": "completed",
    },
    "file_search_call": {
        "id": "fs_sample",
        "type": "file_search_call",
        "queries": ["weather"],
        "status": "completed",
        "results": [{"file_id": "file_1", "filename": "w.txt", "score": 0.5, "text": "sunny"}],
    },
    "web_search_call": {
        "id": "ws_sample",
        "type": "web_search_call",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "weather in Paris",
            "sources": [{"type": "url", "url": "https://example.com"}],
        },
    },
    "image_generation_call": {
        "id": "ig_sample",
        "type": "image_generation_call",
        "status": "completed",
        "result": "aGVsbG8=",
    },
    "computer_call": {
        "id": "cu_sample",
        "type": "computer_call",
        "call_id": "call_2",
        "status": "completed",
        "pending_safety_checks": [],
        "action": {"type": "click", "button": "left", "x": 10, "y": 20},
    },
    "computer_call_output": {
        "id": "cuo_sample",
        "type": "computer_call_output",
        "call_id": "call_2",
        "status": "completed",
        "output": {"type": "computer_screenshot", "image_url": "https://example.com/s.png"},
    },
    "tool_search_call": {
        "id": "ts_sample",
        "type": "tool_search_call",
        "arguments": {"query": "weather"},
        "execution": "server",
        "status": "completed",
    },
    "tool_search_output": {
        "id": "tso_sample",
        "type": "tool_search_output",
        "execution": "server",
        "status": "completed",
        "tools": [_FUNCTION_TOOL],
    },
    "additional_tools": {
        "id": "at_sample",
        "type": "additional_tools",
        "role": "developer",
        "tools": [_FUNCTION_TOOL],
    },
    "configuration_update": {
        "id": "cfg_sample",
        "type": "configuration_update",
        "reasoning": {"effort": "low"},
    },
    "reasoning": {
        "id": "rs_sample",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "The user wants the weather."}],
        "content": [{"type": "reasoning_text", "text": "Call get_weather."}],
        "encrypted_content": "gAAAAB-opaque",
        "status": "completed",
    },
    "program": {
        "id": "prog_sample",
        "type": "program",
        "call_id": "call_3",
        "code": "return 1 + 1;",
        "fingerprint": "fp_1",
    },
    "program_output": {
        "id": "progo_sample",
        "type": "program_output",
        "call_id": "call_3",
        "result": "2",
        "status": "completed",
    },
    "compaction": {
        "id": "cmp_sample",
        "type": "compaction",
        "encrypted_content": "gAAAAB-compacted",
    },
    "code_interpreter_call": {
        "id": "ci_sample",
        "type": "code_interpreter_call",
        "container_id": "cntr_1",
        "code": "print(2)",
        "status": "completed",
        "outputs": [{"type": "logs", "logs": "2\n"}],
    },
    "local_shell_call": {
        "id": "lsh_sample",
        "type": "local_shell_call",
        "call_id": "call_4",
        "status": "completed",
        "action": {"type": "exec", "command": ["ls", "-l"], "env": {"LANG": "C"}},
    },
    "local_shell_call_output": {
        "id": "lsho_sample",
        "type": "local_shell_call_output",
        "output": '{"stdout": "total 0"}',
        "status": "completed",
    },
    "shell_call": {
        "id": "sh_sample",
        "type": "shell_call",
        "call_id": "call_5",
        "status": "completed",
        "action": {"commands": ["echo hi"], "timeout_ms": 1000},
    },
    "shell_call_output": {
        "id": "sho_sample",
        "type": "shell_call_output",
        "call_id": "call_5",
        "status": "completed",
        "output": [{"stdout": "hi\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
    },
    "apply_patch_call": {
        "id": "apc_sample",
        "type": "apply_patch_call",
        "call_id": "call_6",
        "status": "completed",
        "operation": {"type": "create_file", "path": "a.txt", "diff": "+hi"},
    },
    "apply_patch_call_output": {
        "id": "apco_sample",
        "type": "apply_patch_call_output",
        "call_id": "call_6",
        "status": "completed",
        "output": "done",
    },
    "mcp_list_tools": {
        "id": "mcpl_sample",
        "type": "mcp_list_tools",
        "server_label": "docs",
        "tools": [{"name": "search", "input_schema": {"type": "object"}}],
    },
    "mcp_approval_request": {
        "id": "mcpr_sample",
        "type": "mcp_approval_request",
        "server_label": "docs",
        "name": "search",
        "arguments": '{"q": "x"}',
    },
    "mcp_approval_response": {
        "id": "mcpa_sample",
        "type": "mcp_approval_response",
        "approval_request_id": "mcpr_sample",
        "approve": True,
        "reason": None,
    },
    "mcp_call": {
        "id": "mcp_sample",
        "type": "mcp_call",
        "server_label": "docs",
        "name": "search",
        "arguments": '{"q": "x"}',
        "output": "found",
        "error": None,
        "status": "completed",
    },
    "custom_tool_call": {
        "id": "ctc_sample",
        "type": "custom_tool_call",
        "call_id": "call_7",
        "name": "grammar",
        "input": "SELECT 1",
    },
    "custom_tool_call_output": {
        "id": "ctco_sample",
        "type": "custom_tool_call_output",
        "call_id": "call_7",
        "output": [{"type": "input_text", "text": "1"}],
    },
}
"""Every item type of the API's union, by type."""

MODELLED: dict[str, dict[str, Any]] = {
    "assistant_message": {
        "id": "msg_answer",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "phase": "final_answer",
        "content": [
            {
                "type": "output_text",
                "text": "Sunny, see [1].",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://example.com",
                        "title": "Weather",
                        "start_index": 11,
                        "end_index": 14,
                    },
                    {"type": "file_citation", "file_id": "file_1", "filename": "w", "index": 3},
                ],
                "logprobs": [],
            },
            {"type": "refusal", "refusal": "I will not guess tomorrow's."},
        ],
    },
    "incomplete_message": {
        "id": "msg_partial",
        "type": "message",
        "role": "assistant",
        "status": "incomplete",
        "content": [{"type": "output_text", "text": "Sun", "annotations": []}],
    },
    "function_output_parts": {
        "id": "fco_parts",
        "type": "function_call_output",
        "call_id": "call_1",
        "status": "completed",
        "output": [
            {"type": "input_text", "text": "chart:"},
            {"type": "input_image", "detail": "high", "image_url": "https://example.com/c.png"},
            {"type": "input_file", "file_url": "https://example.com/c.csv"},
        ],
    },
    "bare_reasoning": {"id": "rs_bare", "type": "reasoning", "summary": []},
}
"""More of the modelled types: assistant output, partial messages, parts as outputs."""
