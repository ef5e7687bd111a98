"""The configuration the reference tables (tests/analysis/reference, scripts/analysis_reference.py) were made with."""

from __future__ import annotations

from valuescope.analysis.config import AnalysisConfig
from valuescope.privacy.config import PrivacyConfig
from valuescope.taxonomy.config import TaxonomyConfig

# every context kind (task clusters too), a short bootstrap, comparison by model
ANALYSIS = AnalysisConfig(bootstrap=40, task_clusters=6)
PRIVACY = PrivacyConfig(min_conversations=5, min_users=3)
# MiniLM alone: the second encoder and tuned heads are not what this reference is about
TAXONOMY = TaxonomyConfig(build=False, place_second=False, place_tuned=False)
