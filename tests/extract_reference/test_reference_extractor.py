"""The reference extractor: real judgments joined by id, with memory that does not grow with the labels file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from valuescope.extract.config import ExtractConfig
from valuescope.extract.reference import LabelsError, ReferenceExtractor, annotation_to_extraction
from valuescope.records import Conversation


def _conv(id_: str) -> Conversation:
    return Conversation(id=id_, messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])


def _dev(reference_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (reference_dir / "dev.jsonl").read_text("utf-8").splitlines() if line.strip()]


def test_joins_real_judgments_by_id_last_line_wins_missing_quarantined(reference_dir, tmp_path):
    dev = _dev(reference_dir)
    changed = {**dev[3], "task": "a later line for the same id"}
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r) for r in dev) + "\n\n" + json.dumps(changed) + "\n", "utf-8")
    ex = ReferenceExtractor(ExtractConfig(extractor="reference", reference=str(labels)))
    ex.load()
    ids = [r["id"] for r in dev[:50]] + ["nobody:1"]
    got = {e.id: e for e in ex.extract([_conv(i) for i in ids])}
    assert set(got) == set(ids)
    for rec in dev[:50]:
        want = annotation_to_extraction(changed if rec["id"] == changed["id"] else rec, ex.name)
        assert got[rec["id"]].judgment == want.judgment and got[rec["id"]].values == want.values
    assert got[changed["id"]].judgment.task == "a later line for the same id"
    assert got["nobody:1"].judgment is None and "no annotation for this id" in got["nobody:1"].error


def test_a_corpus_sized_labels_file_is_indexed_not_held(reference_dir, tmp_path):
    """20,000 labels (dev replicated with new ids): the extractor keeps 16 bytes per label, not the records."""
    dev = _dev(reference_dir)
    labels = tmp_path / "big.jsonl"
    with labels.open("w", encoding="utf-8") as fh:
        for k in range(20_000):
            rec = dev[k % len(dev)]
            fh.write(json.dumps({**rec, "id": f"{rec['id']}#r{k // len(dev)}"}) + "\n")
    tracemalloc.start()
    try:
        ex = ReferenceExtractor(ExtractConfig(extractor="reference", reference=str(labels)))
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert retained < 2_000_000, f"the extractor retains {retained} bytes for 20,000 labels"
    last = dev[19_999 % len(dev)]
    (hit,) = ex.extract([_conv(f"{last['id']}#r{19_999 // len(dev)}")])
    assert hit.judgment is not None and hit.judgment.task == last["task"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a"}\n{not json\n', ":2: bad JSON in the labels file"),
        (b'{"id": "a"}\n[1, 2]\n', ':2: a label must be a JSON object with a string "id"'),
        (b'{"id": "caf\xe9"}\n', "not UTF-8"),
    ],
)
def test_a_bad_labels_file_fails_at_construction_naming_the_line(tmp_path, content, message):
    labels = tmp_path / "bad.jsonl"
    labels.write_bytes(content)
    with pytest.raises(LabelsError, match=message):
        ReferenceExtractor(ExtractConfig(extractor="reference", reference=str(labels)))
