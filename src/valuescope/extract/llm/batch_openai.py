"""The OpenAI Batch API (files + /v1/batches) via the official SDK."""

from __future__ import annotations

import io
import json
from typing import Any

import openai

from valuescope.extract.llm.backends.base import FatalError
from valuescope.extract.llm.batch_base import BatchProvider, Result
from valuescope.settings import credential

PENDING = {"validating", "in_progress", "finalizing", "cancelling"}


class OpenAIBatch(BatchProvider):
    def _sdk(self) -> openai.OpenAI:
        b = self.backend
        return openai.OpenAI(
            base_url=getattr(b, "base_url", None),
            api_key=credential("OPENAI_API_KEY") or "not-needed",
            timeout=max(b.config.timeout_s, 300),
            max_retries=b.config.max_retries,  # submission and polling are few calls: the SDK's own retries suffice
        )

    def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        lines = [
            json.dumps(
                {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}, ensure_ascii=False
            )
            for key, body in requests
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            with self._sdk() as sdk:
                f = sdk.files.create(file=("valuescope-batch.jsonl", io.BytesIO(data)), purpose="batch")
                batch = sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        except openai.APIStatusError as exc:
            raise FatalError(f"batch submission failed: HTTP {exc.status_code}: {str(exc)[:300]}") from None
        return batch.id

    def poll(self, batch_id: str) -> tuple[bool, str]:
        with self._sdk() as sdk:
            batch = sdk.batches.retrieve(batch_id)
        return batch.status not in PENDING, batch.status

    def collect(self, batch_id: str) -> dict[str, Result]:
        out: dict[str, Result] = {}
        with self._sdk() as sdk:
            batch = sdk.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if not file_id:
                    continue
                for line in sdk.files.content(file_id).text.splitlines():
                    if line.strip():
                        rec = json.loads(line)
                        out[rec["custom_id"]] = self._result(rec)
        return out

    def _result(self, rec: dict[str, Any]) -> Result:
        resp = rec.get("response") or {}
        if rec.get("error"):
            err = rec["error"]
            return f"{err.get('code', 'error')}: {err.get('message', '')}"
        if resp.get("status_code") != 200:
            body = resp.get("body") or {}
            msg = (body.get("error") or {}).get("message", "") if isinstance(body, dict) else str(body)
            return f"HTTP {resp.get('status_code')}: {msg}"
        try:
            return self.backend.parse_body(resp["body"])
        except Exception as exc:  # noqa: BLE001 - a garbled line is one conversation's problem
            return f"unreadable batch result: {exc}"
