"""Where the project's data lives, so every module finds assets, presets and templates the same way."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = ROOT / "assets"
PRESETS_DIR = ROOT / "presets"
TEMPLATES_DIR = ROOT / "templates"
