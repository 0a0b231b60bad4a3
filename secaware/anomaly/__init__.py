"""The anomaly stage: unsupervised detection of abnormal web requests and abnormal behaviour.

`train` fits a baseline into `models/` (with model cards); `anomalies` scores new events into the
`anomalies` table. See request.py (request level), features.py and behaviour.py (behaviour level),
models.py (model files and their safety) and pipeline.py (the stage).
"""

from secaware.anomaly.models import ModelError
from secaware.anomaly.pipeline import AnomalyReport, TrainReport, anomalies, train

__all__ = ["AnomalyReport", "ModelError", "TrainReport", "anomalies", "train"]
