using OpenQwen2VL.Model.Runtime;
using Xunit;

namespace OpenQwen2VL.Model.Tests.Runtime;

public class CpuAllocatorTuningTests
{
    [Fact]
    public void Glibc_accepts_both_settings_once_per_process()
    {
        // CI's Debian has glibc: mallopt must take both values (it refuses an mmap threshold above its maximum).
        bool userSet = Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) || k == "GLIBC_TUNABLES")
            || Environment.GetEnvironmentVariable("OQVL_MALLOC_TUNING") == "0";
        string first = CpuAllocatorTuning.Apply();
        if (OperatingSystem.IsLinux() && !userSet) Assert.Equal("applied", first);
        else Assert.StartsWith("skipped", first);
        Assert.Same(first, CpuAllocatorTuning.Apply());
    }
}
