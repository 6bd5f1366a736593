"""tests/deploy: its helper modules (deploy_helpers, kustomize_lite) are imported by name."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
