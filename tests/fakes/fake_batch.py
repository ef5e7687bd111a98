"""Batch endpoints of the fake LLM server (OpenAI files/batches, Anthropic message batches). Tests only.

A batch is answered at creation (scripted by the same ``FAKE[...]`` markers
as live requests; ``500`` becomes a per-line error) and reports itself
finished after ``app.batch_polls_until_done`` status polls.
"""

from __future__ import annotations

import email
import email.policy
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakes.fake_server import FakeLLM


def _answer(app: FakeLLM, req: dict[str, Any], anthropic: bool) -> tuple[bool, dict[str, Any]]:
    from fakes.fake_server import _schema_props, chat_body

    step = app._step(json.dumps(req.get("messages", [])))
    app.steps[step] += 1
    if step in ("500", "429", "hang", "trunc"):
        return False, {"message": f"fake {step}"}
    return True, chat_body(req, app._answer_text(step, _schema_props(req, anthropic)), anthropic, cut=step == "cut")


def _multipart_file(body: bytes, ctype: str) -> bytes:
    msg = email.message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True)
    raise ValueError("no file part")


def _status(app: FakeLLM, batch: dict[str, Any]) -> None:
    batch["_polls"] += 1
    if batch["_polls"] > app.batch_polls_until_done:
        batch["_done"] = True


def handle(app: FakeLLM, method: str, path: str, body: bytes, headers: dict[bytes, bytes]) -> tuple[int, Any]:
    path = path.removeprefix("/v1")
    parts = [p for p in path.split("/") if p]
    if parts == ["models"]:
        return 200, {"object": "list", "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "fake"}]}
    # -- OpenAI --------------------------------------------------------------------------
    if parts == ["files"] and method == "POST":
        fid = f"file-{len(app.files)}"
        app.files[fid] = _multipart_file(body, headers.get(b"content-type", b"").decode())
        return 200, {
            "id": fid,
            "object": "file",
            "bytes": len(app.files[fid]),
            "created_at": 0,
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }
    if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
        return 200, app.files[parts[1]]
    if parts == ["batches"] and method == "POST":
        req = json.loads(body)
        out_lines, err_lines = [], []
        for line in app.files[req["input_file_id"]].decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            ok, payload = _answer(app, item["body"], anthropic=False)
            if ok:
                out_lines.append(
                    {
                        "id": "r",
                        "custom_id": item["custom_id"],
                        "response": {"status_code": 200, "request_id": "q", "body": payload},
                        "error": None,
                    }
                )
            else:
                err_lines.append(
                    {
                        "id": "r",
                        "custom_id": item["custom_id"],
                        "response": {"status_code": 500, "request_id": "q", "body": {"error": payload}},
                        "error": None,
                    }
                )
        bid = f"batch_{len(app.batches)}"
        out_id, err_id = f"file-out-{bid}", f"file-err-{bid}"
        app.files[out_id] = "".join(json.dumps(x) + "\n" for x in out_lines).encode()
        app.files[err_id] = "".join(json.dumps(x) + "\n" for x in err_lines).encode()
        app.batches[bid] = {
            "_polls": 0,
            "_done": False,
            "kind": "openai",
            "out": out_id,
            "err": err_id,
            "input_file_id": req["input_file_id"],
            "n": len(out_lines) + len(err_lines),
        }
        return 200, _openai_batch(bid, app.batches[bid])
    if len(parts) == 2 and parts[0] == "batches":
        batch = app.batches[parts[1]]
        _status(app, batch)
        return 200, _openai_batch(parts[1], batch)
    # -- Anthropic -----------------------------------------------------------------------
    if parts == ["messages", "batches"] and method == "POST":
        req = json.loads(body)
        lines = []
        for item in req["requests"]:
            ok, payload = _answer(app, item["params"], anthropic=True)
            result = (
                {"type": "succeeded", "message": payload}
                if ok
                else {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "api_error", "message": payload["message"]}},
                }
            )
            lines.append({"custom_id": item["custom_id"], "result": result})
        bid = f"msgbatch_{len(app.batches)}"
        app.batches[bid] = {
            "_polls": 0,
            "_done": False,
            "kind": "anthropic",
            "lines": lines,
            "host": headers.get(b"host", b"127.0.0.1").decode(),
        }
        return 200, _anthropic_batch(bid, app.batches[bid])
    if len(parts) == 3 and parts[:2] == ["messages", "batches"]:
        batch = app.batches[parts[2]]
        _status(app, batch)
        return 200, _anthropic_batch(parts[2], batch)
    if len(parts) == 4 and parts[:2] == ["messages", "batches"] and parts[3] == "results":
        return 200, "".join(json.dumps(x) + "\n" for x in app.batches[parts[2]]["lines"]).encode()
    return 404, {"error": {"message": f"fake server: no route {method} {path}", "type": "not_found"}}


def _openai_batch(bid: str, b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": bid,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "input_file_id": b["input_file_id"],
        "created_at": 0,
        "status": "completed" if b["_done"] else "in_progress",
        "output_file_id": b["out"] if b["_done"] else None,
        "error_file_id": b["err"] if b["_done"] else None,
        "request_counts": {"total": b["n"], "completed": b["n"] if b["_done"] else 0, "failed": 0},
    }


def _anthropic_batch(bid: str, b: dict[str, Any]) -> dict[str, Any]:
    n = len(b["lines"])
    return {
        "id": bid,
        "type": "message_batch",
        "processing_status": "ended" if b["_done"] else "in_progress",
        "request_counts": {
            "processing": 0 if b["_done"] else n,
            "succeeded": n if b["_done"] else 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "ended_at": None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"http://{b['host']}/v1/messages/batches/{bid}/results" if b["_done"] else None,
    }
