"""Models: the baselines the audit trains, and the TrainedModels every section reads."""

from audit.models.baselines import (  # noqa: F401
    LeaderboardRow,
    ModelsReport,
    TrainedModels,
    encoded_to_original,
    make_preprocessor,
    make_pipeline,
    metric_value,
    train_models,
)

__all__ = ['LeaderboardRow', 'ModelsReport', 'TrainedModels', 'encoded_to_original', 'make_preprocessor', 'make_pipeline', 'metric_value', 'train_models']
