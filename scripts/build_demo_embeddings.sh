#!/usr/bin/env bash
# Recompute the vectors shipped with the demo data, with Paperboy's own commands:
# import the demo papers into a scratch store, embed them all, export the vectors.
# Run after the demo data or the embedding model changes (takes minutes on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export PAPERBOY_DATABASE_URL="sqlite:///$scratch/paperboy.db"
target="src/paperboy/demo/embeddings-all-MiniLM-L6-v2.npz"
rm -f "$target"  # import --demo must not load the old vectors
.venv/bin/paperboy import --demo --no-embed
.venv/bin/paperboy embed
.venv/bin/paperboy embed --export "$target"
ls -l "$target"
