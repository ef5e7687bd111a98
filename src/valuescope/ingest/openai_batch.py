"""OpenAI Batch API files: the input (requests) and the output (responses), joined by ``custom_id``.

Line layouts as documented in OpenAI's Batch guide (platform.openai.com/docs/guides/batch):

* input:  ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {chat request}}``
* output: ``{"id": "batch_req_...", "custom_id", "response": {"status_code", "request_id",
  "body": {chat completion}}, "error": null | {"code", "message"}}``

Given both files in one ingest, each output line becomes one conversation:
the input's ``body.messages`` followed by the answer (``choices[0].message``),
and the matching input line is counted as ``joined`` (not read twice). An
output whose input was not given is read from the response alone
(``meta.batch_request_missing``); an input line without an output is
quarantined (no answer to judge). A failed request (``error`` set, or a
status other than 200) is quarantined with the API's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from valuescope.ingest import openai
from valuescope.ingest.draft import Draft, RecordError, as_text
from valuescope.records import stable_hash

NAME = "openai_batch"


def sniff(record: dict[str, Any]) -> bool:
    return "custom_id" in record and (isinstance(record.get("body"), dict) or "response" in record)


def is_request(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("body"), dict) and "response" not in record


@dataclass
class BatchIndex:
    """The requests and answered ids of every batch file in one ingest (built before reading)."""

    requests: dict[str, bytes] = field(default_factory=dict)  # custom_id -> the input line
    answered: set[str] = field(default_factory=set)  # custom_ids with an output line

    def tag(self) -> str:
        """Changes when the joins change (an output file added or removed): keys the batch files' chunks."""
        return stable_hash([sorted(self.answered), sorted(self.requests)])


def parse(record: Any, index: BatchIndex | None = None) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    custom_id = as_text(record.get("custom_id"))
    if is_request(record):
        drafts = openai.parse({**record["body"], "id": custom_id})
        drafts[0].meta["batch_url"] = record.get("url")
        return drafts  # without an output: validation reports "no assistant turn"
    if record.get("error"):
        err = record["error"]
        raise RecordError(f"batch request failed: {err.get('message', err) if isinstance(err, dict) else err}")
    response = record.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("body"), dict):
        raise RecordError("batch output line without 'response.body'")
    if response.get("status_code") not in (None, 200):
        body_err = response["body"].get("error")
        message = body_err.get("message") if isinstance(body_err, dict) else None
        raise RecordError(
            f"batch request failed with status {response['status_code']}" + (f": {message}" if message else "")
        )
    request_line = index.requests.get(custom_id) if index is not None and custom_id is not None else None
    if request_line is not None:
        request = json.loads(request_line)["body"]
        drafts = openai.parse({"request": request, "response": response["body"], "id": custom_id})
    else:
        drafts = openai.parse({"messages": [], "response": response["body"], "id": custom_id})
        drafts[0].meta["batch_request_missing"] = True
    drafts[0].meta["batch_request_id"] = response.get("request_id")
    return drafts


def build_batch_index(files: list[Any], max_record_bytes: int) -> BatchIndex | None:
    """Requests by ``custom_id`` and the answered ids, over every batch file of the ingest (None: no batch file)."""
    from valuescope.ingest.streams import decode_json, iter_lines, open_input

    batch_files = [f for f in files if f.format == NAME and f.container == "jsonl"]
    if not batch_files:
        return None
    index = BatchIndex()
    for f in batch_files:
        with open_input(f.local) as fh:
            for raw in iter_lines(fh, max_record_bytes):  # bounded: an over-long line is quarantined when read
                try:
                    record = decode_json(raw.data) if raw.data else None
                except RecordError:
                    continue  # quarantined as bad JSON when read
                custom_id = record.get("custom_id") if isinstance(record, dict) else None
                if not isinstance(custom_id, str):
                    continue
                if is_request(record):
                    index.requests.setdefault(custom_id, raw.data)
                else:
                    index.answered.add(custom_id)
    index.requests = {k: v for k, v in index.requests.items() if k in index.answered}  # only joins are needed
    return index
