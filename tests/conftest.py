import sys
from pathlib import Path

# tests/ holds shared helpers (brute_force, toolchains); make them importable
sys.path.insert(0, str(Path(__file__).parent))
