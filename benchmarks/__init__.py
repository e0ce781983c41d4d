"""recframe's benchmark suite: seeded data shapes and side-by-side runs (not run in CI)."""
