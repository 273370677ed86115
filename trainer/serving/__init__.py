"""Using a trained run: `Predictor` (Python), the inputs `trainer predict` reads, and the HTTP server."""
