"""The REST backoffice (FastAPI). See docs/ for what exists."""
