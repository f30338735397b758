// libtorch's default RNG (manual_seed) and thread settings are process-wide: tests that seed and then draw
// weights, or compare bit-exact training runs, would interfere if collections ran in parallel.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
