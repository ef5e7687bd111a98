"""One run's configuration: each stage package owns its own section."""

from __future__ import annotations

from pydantic import BaseModel, Field

from valuescope.analysis.config import AnalysisConfig
from valuescope.extract.config import ExtractConfig
from valuescope.ingest.config import IngestConfig
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.taxonomy.config import TaxonomyConfig


class RunConfig(BaseModel):
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    taxonomy: TaxonomyConfig = Field(default_factory=TaxonomyConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    workers: int | None = None  # local engine processes; None = min(cores, 2)
