"""Training: the loop, its callbacks, checkpoints, configs and run folders."""

from steepest.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from steepest.train.config import (
    DEFAULT_LR,
    SCHEDULE_ALIASES,
    ConfigError,
    ConfigTypeError,
    Experiment,
    TrainConfig,
    build,
    build_model,
    build_schedule,
    load_config,
    parse_value,
)
from steepest.train.loop import (
    Callback,
    EarlyStopping,
    History,
    Trainer,
    TrainingDiverged,
    evaluate,
)
from steepest.train.run import RunResult, resume_training, run_training

__all__ = [
    "DEFAULT_LR",
    "SCHEDULE_ALIASES",
    "Callback",
    "CheckpointError",
    "ConfigError",
    "ConfigTypeError",
    "EarlyStopping",
    "Experiment",
    "History",
    "RunResult",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "build",
    "build_model",
    "build_schedule",
    "evaluate",
    "load_checkpoint",
    "load_config",
    "parse_value",
    "resume_training",
    "run_training",
    "save_checkpoint",
]
