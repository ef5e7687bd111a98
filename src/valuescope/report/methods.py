"""Data of the report's methods section: how far the run's numbers can be trusted.

Why: an extractor's judgments are estimates. The offline extractor's weights
carry the agreement they reached with reference annotations in
cross-validation (model.json ``agreement``, written by
scripts/train_offline.py); the methods section shows those figures, per
facet and per source corpus, so nobody reads the report's shares as exact.
The taxonomy stage's ``l2_hint_disagreement`` (how often the placed l2 of a
value differs from the l2 the extractor named it under) is shown when the
manifest has it.
"""

from __future__ import annotations

from typing import Any

from valuescope.report.data import ReportData

FACETS: tuple[tuple[str, str], ...] = (
    ("subjective_accuracy", "subjective (accuracy)"),
    ("ai_l3_micro_f1", "AI values, l3 (micro-F1)"),
    ("ai_l2_micro_f1", "AI values, l2 (micro-F1)"),
    ("human_l3_micro_f1", "human values, l3 (micro-F1)"),
    ("human_l2_micro_f1", "human values, l2 (micro-F1)"),
    ("response_macro_f1", "response type (macro-F1)"),
    ("task_category_accuracy", "task category (accuracy)"),
    ("benign_as_harmful", "benign called harmful request (share, lower is better)"),
    ("ai_l2_profile_spearman", "AI l2 profile (Spearman)"),
    ("harmful_auroc", "harmful compliance (AUROC)"),
)


def _run_extractors(data: ReportData) -> list[str]:
    judg = data.get("judgments")
    if judg is None or "extractor" not in judg.columns:
        return []
    return sorted(str(e) for e in judg["extractor"].dropna().unique())


def extractor_agreement(data: ReportData) -> dict[str, Any] | None:
    """The measured agreement of the offline weights this run used (None for other extractors).

    The installed bundle is used only when its sha256 prefix is the one in the run's
    extractor name, so a report never shows another model's figures.
    """
    names = [e for e in _run_extractors(data) if e.startswith("offline:")]
    if not names:
        return None
    try:
        from valuescope.extract.offline import bundle as B

        meta = B.load().meta
    except (FileNotFoundError, OSError, ValueError):
        return {"extractor": names[0], "missing": "the offline weights are not installed here"}
    sha = str(meta.get("weights_sha256", ""))
    if not any(n.endswith(sha[:8]) for n in names) or not sha:
        return {"extractor": names[0], "missing": "the run used other offline weights than the installed ones"}
    agreement = meta.get("agreement")
    if not isinstance(agreement, dict) or not isinstance(agreement.get("overall"), dict):
        return {"extractor": names[0], "missing": "these weights carry no measured agreement"}
    corpora = [c for c in agreement.get("by_corpus", {}) if isinstance(agreement["by_corpus"][c], dict)]
    rows = []
    for key, label in FACETS:
        cells = [agreement["overall"].get(key)] + [agreement["by_corpus"][c].get(key) for c in corpora]
        if all(v is None for v in cells):
            continue
        rows.append([label] + ["—" if v is None else f"{float(v):.2f}" for v in cells])
    header = ["facet", f"all ({agreement.get('n', '?')})"] + [
        f"{c} ({agreement['by_corpus'][c].get('n', '?')})" for c in corpora
    ]
    return {
        "extractor": names[0],
        "missing": None,
        "measured_on": agreement.get("measured_on", ""),
        "method": agreement.get("method", ""),
        "header": header,
        "rows": rows,
    }


def l2_hint_disagreement(data: ReportData) -> float | None:
    """The taxonomy stage's stat, from whichever stage recorded it in the manifest."""
    stages = data.manifest.get("stages", {})
    for stage in stages.values() if isinstance(stages, dict) else []:
        stats = stage.get("stats") if isinstance(stage, dict) else None
        if isinstance(stats, dict) and isinstance(stats.get("l2_hint_disagreement"), int | float):
            return float(stats["l2_hint_disagreement"])
    return None


def methods_context(data: ReportData) -> dict[str, Any]:
    """Template data: the extractor's agreement table and the l2-hint disagreement (as text)."""
    d = l2_hint_disagreement(data)
    shown = None if d is None else (f"{100 * d:.1f}% of extracted values" if 0 <= d <= 1 else f"{d:g} extracted values")
    return {"agreement": extractor_agreement(data), "l2_hint_disagreement": shown}
