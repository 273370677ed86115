"""Fine-tuning: config schema, model construction, the Trainer-based engine."""
