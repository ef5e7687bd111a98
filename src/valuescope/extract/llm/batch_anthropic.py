"""Anthropic Message Batches via the official SDK."""

from __future__ import annotations

from typing import Any

import anthropic

from valuescope.extract.llm.backends.base import FatalError
from valuescope.extract.llm.batch_base import BatchProvider, Result
from valuescope.settings import credential


class AnthropicBatch(BatchProvider):
    def _sdk(self) -> anthropic.Anthropic:
        b = self.backend
        return anthropic.Anthropic(
            base_url=getattr(b, "base_url", None),
            api_key=credential("ANTHROPIC_API_KEY") or "not-needed",
            timeout=max(b.config.timeout_s, 300),
            max_retries=b.config.max_retries,
        )

    def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        try:
            with self._sdk() as sdk:
                batch = sdk.messages.batches.create(requests=[{"custom_id": k, "params": body} for k, body in requests])
        except anthropic.APIStatusError as exc:
            raise FatalError(f"batch submission failed: HTTP {exc.status_code}: {str(exc)[:300]}") from None
        return batch.id

    def poll(self, batch_id: str) -> tuple[bool, str]:
        with self._sdk() as sdk:
            batch = sdk.messages.batches.retrieve(batch_id)
        return batch.processing_status == "ended", batch.processing_status

    def collect(self, batch_id: str) -> dict[str, Result]:
        out: dict[str, Result] = {}
        with self._sdk() as sdk:
            for item in sdk.messages.batches.results(batch_id):
                result = item.result
                if result.type == "succeeded":
                    out[item.custom_id] = self.backend.parse_body(result.message.model_dump())
                elif result.type == "errored":
                    err = result.error.model_dump() if hasattr(result.error, "model_dump") else {}
                    detail = (err.get("error") or {}).get("message") or str(err)[:300]
                    out[item.custom_id] = f"errored: {detail}"
                else:
                    out[item.custom_id] = result.type  # "canceled" | "expired"
        return out
