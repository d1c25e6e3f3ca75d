"""NAB (Numenta Anomaly Benchmark) scoring and evaluation."""
