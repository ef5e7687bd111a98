"""The shipped model bundle: ``model.npz`` (arrays) + ``model.json`` (names, provenance).

Everything the extractor needs at run time is here — heads, zero-shot
prototypes, candidate value names and their embeddings, task phrases — so
inference never re-embeds the taxonomy and needs no network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from valuescope.embed.base import Embedder
from valuescope.extract.offline import heads as H
from valuescope.extract.offline.features import VIEW_TOKENS, VIEWS
from valuescope.extract.offline.model import OfflineModel

BUNDLE_VERSION = "1"


@dataclass
class Bundle:
    model: OfflineModel
    protos: dict[str, np.ndarray]  # l2 (26,d), l3 (5,d), task (14,d)
    leaf_emb: np.ndarray  # (n_leaves, d)
    phrase_emb: np.ndarray  # (n_phrases, d)
    meta: dict[str, Any]  # embedder, leaves [[name, l2, prior]], phrases [[category, phrase]], provenance

    @property
    def version(self) -> str:
        return f"{self.meta['embedder']}-v{BUNDLE_VERSION}-{self.meta.get('weights_sha256', '')[:8]}"


def default_dir(override: str | Path | None = None) -> Path:
    """The bundle folder: ``extract.offline_model`` when set (``VALUESCOPE_OFFLINE_MODEL`` at the CLI), else the bundled one."""
    return Path(override) if override else Path(str(resources.files("valuescope.data") / "offline"))


def save(bundle: Bundle, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"model_{k}": v for k, v in bundle.model.to_arrays().items()}
    arrays.update({f"proto_{k}": v.astype(np.float32) for k, v in bundle.protos.items()})
    arrays["leaf_emb"] = bundle.leaf_emb.astype(np.float16)
    arrays["phrase_emb"] = bundle.phrase_emb.astype(np.float16)
    H.save_arrays(folder / "model.npz", arrays)
    import hashlib

    meta = {**bundle.meta, "weights_sha256": hashlib.sha256((folder / "model.npz").read_bytes()).hexdigest()}
    bundle.meta = meta
    write_meta(folder, meta)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """model.json, written the same way by training and by attaching measured agreement afterwards."""
    (folder / "model.json").write_text(
        json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def load(folder: Path | None = None) -> Bundle:
    folder = Path(folder) if folder else default_dir()
    npz, meta_path = folder / "model.npz", folder / "model.json"
    if not npz.is_file() or not meta_path.is_file():
        raise FileNotFoundError(f"offline model not found in {folder}; run scripts/train_offline.py --shared ../shared")
    a = H.load_arrays(npz)
    model = OfflineModel.from_arrays({k[6:]: v for k, v in a.items() if k.startswith("model_")})
    protos = {k[6:]: v for k, v in a.items() if k.startswith("proto_")}
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return Bundle(model, protos, a["leaf_emb"].astype(np.float32), a["phrase_emb"].astype(np.float32), meta)


def view_embedders(key: str, threads: int | None = None) -> dict[str, Embedder]:
    """One embedder per view, by registry key; MiniLM gets each view's token window, others their own."""
    if key == "minilm":
        from valuescope.embed.minilm import MiniLMEmbedder

        by_tokens = {t: MiniLMEmbedder(max_tokens=t, threads=threads) for t in sorted(set(VIEW_TOKENS.values()))}
        return {v: by_tokens[VIEW_TOKENS[v]] for v in VIEWS}
    from valuescope.embed import get_embedder

    emb = get_embedder(key)
    return {v: emb for v in VIEWS}
