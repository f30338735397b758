using System.Diagnostics;

namespace OpenQwen2VL.Benchmarks;

/// <summary>Wall and process CPU time of a run: on a shared machine CPU time shows the cost when wall time is inflated by other load.</summary>
internal static class BenchTiming
{
    public static (T Result, double Wall, double Cpu) Measure<T>(Func<T> f)
    {
        var proc = Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var r = f();
        double wall = sw.Elapsed.TotalSeconds;
        proc.Refresh();
        return (r, wall, (proc.TotalProcessorTime - cpu0).TotalSeconds);
    }
}
