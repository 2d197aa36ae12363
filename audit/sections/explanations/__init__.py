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

__all__ = ['explain_model', 'local_explanation', 'ExplanationOptions', 'ExplanationReport', 'LocalExplanation', 'FeatureImportance', 'FeatureValues', 'Dependence', 'DependenceBin', 'GroupShap', 'GroupGap', 'GapContribution', 'AdditivityCheck', 'PermutationImportance', 'PermutationFeature', 'FeatureContribution', 'SurrogateTree', 'SurrogateRule', 'ErrorAnalysis', 'Cohort']
