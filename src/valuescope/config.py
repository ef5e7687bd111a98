"""One run's configuration: each stage package owns its own section."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationError

from valuescope.analysis.config import AnalysisConfig
from valuescope.errors import ConfigError
from valuescope.extract.config import ExtractConfig
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
    # who computes batches and chunks (docs/engine.md); the tables are the same, so none of these is in a stage key
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # None: a local Ray instance; "auto" or "ray://HOST:PORT": a cluster
    ray_workers: int | None = None  # Ray actors per stage at most (and the local instance's CPUs); None = all CPUs


# Environment variables that change settings, read once at the CLI/API boundary (never deep inside a
# module), so every setting that changes a table is in the config and therefore in its stage's key.
ENVIRONMENT: dict[str, str] = {
    "VALUESCOPE_PLACE_SECOND": "taxonomy.place_second",  # off = place values with MiniLM alone
    "VALUESCOPE_PLACE_TUNED": "taxonomy.place_tuned",  # off = no fine-tuned placement heads
    "VALUESCOPE_OFFLINE_MODEL": "extract.offline_model",  # folder of another offline-extractor bundle
}


def with_environment(config: RunConfig, environ: Mapping[str, str] | None = None) -> RunConfig:
    """`config` with the settings named by :data:`ENVIRONMENT` taken from the environment when set there.

    Booleans read as pydantic does ("off", "false", "0", "no" are false); a bad value is a clear error.
    """
    environ = os.environ if environ is None else environ
    data = config.model_dump()
    for var, setting in ENVIRONMENT.items():
        value = environ.get(var, "").strip()
        if value:
            section, _, field = setting.partition(".")
            data[section][field] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        bad = ", ".join(f"{'.'.join(map(str, e['loc']))}" for e in exc.errors())
        names = ", ".join(v for v, s in ENVIRONMENT.items() if s in bad)
        raise ConfigError(f"bad environment variable {names or bad}: {exc.errors()[0]['msg']}") from None
