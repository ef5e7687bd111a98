"""Training and cross-validation of the offline extractor's bundle (scripts/train_offline.py, benchmarks/offline_cv.py); the runtime reads only the bundle."""
