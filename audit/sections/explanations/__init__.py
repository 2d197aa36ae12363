"""Explanations: SHAP, permutation importance, a surrogate tree and error analysis."""

from audit.sections.explanations.section import (  # noqa: F401
    explain_model,
    local_explanation,
    ExplanationOptions,
    ExplanationReport,
    LocalExplanation,
    FeatureImportance,
    FeatureValues,
    Dependence,
    DependenceBin,
    GroupShap,
    GroupGap,
    GapContribution,
    AdditivityCheck,
    PermutationImportance,
    PermutationFeature,
    FeatureContribution,
    SurrogateTree,
    SurrogateRule,
    ErrorAnalysis,
    Cohort,
)

from audit.sections.explanations.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['explain_model', 'local_explanation', 'ExplanationOptions', 'ExplanationReport', 'LocalExplanation', 'FeatureImportance', 'FeatureValues', 'Dependence', 'DependenceBin', 'GroupShap', 'GroupGap', 'GapContribution', 'AdditivityCheck', 'PermutationImportance', 'PermutationFeature', 'FeatureContribution', 'SurrogateTree', 'SurrogateRule', 'ErrorAnalysis', 'Cohort']
