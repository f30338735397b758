namespace OpenQwen2VL.Tests;

/// <summary>
/// Tests that count the process's managed allocations (GC.GetTotalAllocatedBytes) around a multi-threaded job: they run
/// alone, after the parallel collections, so other tests' allocations do not count. No libtorch here.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurement
{
    public const string Name = "managed allocation measurement";
}
