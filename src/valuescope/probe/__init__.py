"""Probing a model before deployment: send a scenario suite, store the answers as a run, gate a release.

suite.py   scenario schema + loading (bundled suite or the user's JSONL/YAML)
target.py  the target model, spoken to through the extractor's LLM backends and client
stage.py   the engine stage that sends the suite (resumable, cached) -> conversations.parquet
gate.py    release rules over the pressure analysis (analysis/pressure.py)
run.py     probe(): the probe stage followed by every later stage of `valuescope analyze`
"""
