#!/usr/bin/env bash
# Build the documentation into site/ (or the directory given as $1), failing on any warning.
# Needs mkdocs and mkdocstrings[python] in the Python that runs it (nothing is installed here):
#   pip install mkdocs "mkdocstrings[python]"
# PYTHON selects the interpreter (default: .venv/bin/python if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
exec "$PYTHON" -m mkdocs build --strict -d "${1:-site}"
