"""The file contract (docs/contracts.md): every file name of a dataset, run and model directory, and
the one reader and writer of each JSON file, each failing with an error that names the file."""
from trainer.contracts.dataset import is_dataset_dir, read_manifest
from trainer.contracts.files import *  # noqa: F401,F403 - the file names are the contract
from trainer.contracts.files import read_json, read_jsonl
from trainer.contracts.export import (ExportInfo, export_dir_of, file_sha256, read_export_info,
                                      write_export_info)
from trainer.contracts.model import (ModelSpec, Target, answer_spec, default_thresholds, fused_targets,
                                     gazetteer_only, model_dir_of, read_fusion, read_spec, read_thresholds,
                                     write_fusion, write_spec, write_thresholds)
from trainer.contracts.tuning import picked_bucket_thresholds, read_tuning, write_tuning
from trainer.contracts.run import (append_train_log, is_run_dir, prediction_row, read_meta, read_metrics,
                                   read_predictions, read_run_config, read_scored_dataset, read_train_log,
                                   update_meta, write_metrics, write_predictions)
