using System.Runtime.InteropServices;

namespace OpenQwen2VL.Model.Runtime;

/// <summary>
/// Keeps glibc from handing libtorch's CPU activations back to the kernel after every step.
/// <para>
/// libtorch allocates each activation and gradient with malloc and frees it within the step. glibc serves blocks
/// above its mmap threshold with a fresh mmap, so the next step's tensor of the same size faults in and zeroes every
/// page again; on this 2-core VM the kernel's page clearing and fault handling took about a fifth of the demo's
/// vision-tower training (perf: clear_page_erms, pvm_irq_enable). With the mmap threshold at glibc's 32 MiB maximum
/// and the heap never trimmed, freed blocks are reused instead. Measured on the demo's tower training (batches of 512,
/// same losses to the last digit): 1,190–1,400 → 1,940–2,000 images/s at epoch 5, two A/B pairs in turn. Both settings
/// are needed: either alone also switches off glibc's dynamic threshold (trim alone: 360 images/s).
/// </para>
/// <para>
/// The cost is that the process keeps its peak heap instead of returning it, which a training process reaches
/// again every step anyway. Skipped where the user set glibc's own MALLOC_* variables, where
/// <c>OQVL_MALLOC_TUNING=0</c>, and on anything but glibc Linux.
/// </para>
/// </summary>
public static class CpuAllocatorTuning
{
    const int MTrimThreshold = -1, MMmapThreshold = -3;
    /// <summary>glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX = 4 MiB · sizeof(long)).</summary>
    public const int MmapThresholdBytes = 32 << 20;
    static readonly object Gate = new();
    static string? _outcome;

    /// <summary>Applies the settings once per process; returns what happened (for logs and tests).</summary>
    public static string Apply()
    {
        lock (Gate) return _outcome ??= ApplyOnce();
    }

    static string ApplyOnce()
    {
        if (!OperatingSystem.IsLinux()) return "skipped: not Linux";
        if (Environment.GetEnvironmentVariable("OQVL_MALLOC_TUNING") == "0") return "skipped: OQVL_MALLOC_TUNING=0";
        if (Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) || k == "GLIBC_TUNABLES"))
            return "skipped: the environment sets glibc's malloc";
        try
        {
            // mallopt returns 1 on success; musl's stub returns 0.
            if (Mallopt(MMmapThreshold, MmapThresholdBytes) != 1) return "skipped: mallopt refused M_MMAP_THRESHOLD";
            if (Mallopt(MTrimThreshold, int.MaxValue) != 1) return "skipped: mallopt refused M_TRIM_THRESHOLD";
            return "applied";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "skipped: no mallopt in libc";
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);
}
