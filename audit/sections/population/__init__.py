"""Every-row statistics: counts, representation, base rates and model rates over every row."""

from audit.sections.population.section import SUPPORTS_MULTICLASS  # noqa: F401  (read by the pipeline)
from audit.sections.population.section import PopulationOptions, PopulationReport, audit_population

__all__ = ["PopulationOptions", "PopulationReport", "audit_population"]
