//! Benchmark tools, not shipped: `bare` (the ceiling tollgate is measured against) and `seed` (fills
//! a SQLite store with many credentials in one transaction). See `bench/run` and `docs/benchmarks.md`.
