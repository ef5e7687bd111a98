"""One run's configuration: each stage package owns its own section."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationError

from valuescope.analysis.config import AnalysisConfig
from valuescope.errors import ConfigError
from valuescope.extract.config import ExtractConfig, LLMOverrides, llm_settings
from valuescope.ingest.config import IngestConfig
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.settings import StrictModel
from valuescope.taxonomy.config import TaxonomyConfig


class RunConfig(StrictModel):
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    taxonomy: TaxonomyConfig = Field(default_factory=TaxonomyConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    workers: int | None = None  # local engine processes; None = min(cores, 2)
    # inference threads per process for the embedders (onnxruntime, e5); None = 1 in engine workers, else the
    # runtime decides. Speed only (like workers): not part of any stage key.
    threads: int | None = Field(None, ge=1)
    # a folder shared across runs for model answers (<cache_dir>/llm, <cache_dir>/probe); None = inside each run.
    # Where answers are kept, not what they are: not part of any stage key.
    cache_dir: str | None = None

    # who computes batches and chunks (docs/engine.md); the tables are the same, so none of these is in a stage key
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # None: a local Ray instance; "auto" or "ray://HOST:PORT": a cluster
    ray_workers: int | None = None  # Ray actors per stage at most (and the local instance's CPUs); None = all CPUs

    def taxonomy_for_run(self) -> TaxonomyConfig:
        """The taxonomy settings with the namer's LLM filled in: [extract]'s, with what [taxonomy.llm] overrides."""
        full = llm_settings(self.extract, self.taxonomy.llm)
        return self.taxonomy.model_copy(update={"llm": LLMOverrides(**full.model_dump())})


# Environment variables that change settings, read once at the CLI/API boundary (never deep inside a
# module), so every setting that changes a table is in the config and therefore in its stage's key.
# A name without a section is a top-level setting.
ENVIRONMENT: dict[str, str] = {
    "VALUESCOPE_THREADS": "threads",  # embedder threads per process
    "VALUESCOPE_CACHE_DIR": "cache_dir",  # share LLM and probe answers across runs
    "VALUESCOPE_LLM_HTTP": "extract.http",  # "default" = the SDK's own HTTP stack, never the lean transport
    "VALUESCOPE_PLACE_SECOND": "taxonomy.place_second",  # off = place values with MiniLM alone
    "VALUESCOPE_PLACE_TUNED": "taxonomy.place_tuned",  # off = no fine-tuned placement heads
    "VALUESCOPE_OFFLINE_MODEL": "extract.offline_model",  # folder of another offline-extractor bundle
}

# Old names still read (when the new one is unset), with a warning naming the new one.
DEPRECATED: dict[str, str] = {
    "VALUESCOPE_ORT_THREADS": "VALUESCOPE_THREADS",
    "VALUESCOPE_EMBED_THREADS": "VALUESCOPE_THREADS",
}


def with_environment(config: RunConfig, environ: Mapping[str, str] | None = None) -> RunConfig:
    """`config` with the settings named by :data:`ENVIRONMENT` taken from the environment when set there.

    Booleans read as pydantic does ("off", "false", "0", "no" are false); a bad value is a clear error.
    """
    environ = os.environ if environ is None else environ
    data = config.model_dump()
    for var, setting in ENVIRONMENT.items():
        value = environ.get(var, "").strip()
        for old in (o for o, new in DEPRECATED.items() if new == var and not value):
            value = environ.get(old, "").strip()
            value = "" if value == "0" else value  # their 0 meant "the runtime decides": unset
            if value:
                warnings.warn(f"${old} is deprecated: set ${var}", FutureWarning, stacklevel=2)
        if value:
            section, _, field = setting.rpartition(".")
            (data[section] if section else data)[field] = value.lower() if var == "VALUESCOPE_LLM_HTTP" else value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        bad = ", ".join(f"{'.'.join(map(str, e['loc']))}" for e in exc.errors())
        names = ", ".join(v for v, s in ENVIRONMENT.items() if s in bad.split(", "))
        raise ConfigError(f"bad environment variable {names or bad}: {exc.errors()[0]['msg']}") from None
