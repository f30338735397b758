namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// One benchmark: measures a workload and its baseline in the same run and returns table rows.
/// Program discovers implementations by reflection; `dotnet run -c Release --project bench/OpenQwen2VL.Benchmarks -- NAME`.
/// </summary>
public interface IBenchmark
{
    string Name { get; }
    string Description { get; }
    /// <param name="quick">smaller sizes for a smoke run</param>
    IEnumerable<BenchRow> Run(bool quick);
}

/// <summary>A measured row: workload, metric value with unit, and a ratio against the named baseline (if any).</summary>
public sealed record BenchRow(string Workload, string Metric, double Value, string Unit, string? Baseline = null, double? Ratio = null);
