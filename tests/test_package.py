"""Package-level behaviour: importing trainer leaves the process as it found it."""
from __future__ import annotations

import json
import subprocess
import sys

# Third-party libraries (numpy, sklearn, ...) add warning filters of their own when imported: import
# them first, so the probe sees only what trainer's modules do.
_PROBE = """
import json, logging, os, warnings
import numpy, sklearn, datasets, datasketch, torch, transformers, evaluate, fastapi, uvicorn
before = (dict(os.environ), list(warnings.filters), logging.getLogger().handlers[:], logging.getLogger().level)
import trainer, trainer.cli, trainer.config, trainer.data.build, trainer.workflows.train, trainer.evaluation
import trainer.serving.predictor, trainer.serving.http, trainer.compare, trainer.models.transformer.fitting
import trainer.models.transformer.scoring, trainer.models.tfidf_linear, trainer.tracking, trainer.workflows.sweep
after = (dict(os.environ), list(warnings.filters), logging.getLogger().handlers[:], logging.getLogger().level)
print(json.dumps({"env": before[0] == after[0], "warnings": before[1] == after[1],
                  "handlers": before[2] == after[2], "level": before[3] == after[3]}))
"""


def test_package_import_changes_no_global_state():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"env": True, "warnings": True, "handlers": True, "level": True}
