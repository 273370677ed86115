"""`trainer audit DATASET [RUN_CONFIG] --out DIR`: suspected label errors (out-of-fold scores of every training
and validation document, ranked by cleanlab) and the duplicates whose labels conflict. Test documents are never read."""
from trainer.audit.audit import AuditResult, audit_dataset

__all__ = ["AuditResult", "audit_dataset"]
