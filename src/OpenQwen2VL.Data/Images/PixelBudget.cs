namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Bounds the bytes of decode buffers in flight across concurrent decodes (pack, curate and the loaders decode
/// on several threads): each decode leases its buffer size after the header is read and before the buffer is
/// allocated, and waits while the budget is taken. Without it, eight legal 9400x9400 PNGs (a few KB each) decoded at
/// once take gigabytes. An image larger than the whole budget still decodes: it takes the whole budget, i.e. waits
/// until it runs alone, so nothing deadlocks.
/// </summary>
public sealed class PixelBudget
{
    /// <summary>512 MiB of decode buffers in flight: a few of the largest images PIL accepts (89 MP x 4 bytes = 358 MB) or hundreds of ordinary ones.</summary>
    public const long DefaultBytes = 512L * 1024 * 1024;

    /// <summary>The process-wide budget every <see cref="ImageLimits"/> uses unless given its own.</summary>
    public static PixelBudget Shared { get; } = new(DefaultBytes);

    private readonly object _gate = new();
    private long _inUse;
    private long _peak;

    public PixelBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1L);
        CapacityBytes = capacityBytes;
    }

    public long CapacityBytes { get; }

    /// <summary>Bytes leased now.</summary>
    public long InUseBytes { get { lock (_gate) return _inUse; } }

    /// <summary>Most bytes ever leased at once (instrumentation: never above <see cref="CapacityBytes"/>).</summary>
    public long PeakBytes { get { lock (_gate) return _peak; } }

    /// <summary>Waits until <paramref name="bytes"/> (capped at the whole budget) fit, then leases them until the lease is disposed.</summary>
    public Lease Acquire(long bytes)
    {
        long take = Math.Clamp(bytes, 0, CapacityBytes);
        lock (_gate)
        {
            while (_inUse + take > CapacityBytes) Monitor.Wait(_gate);
            _inUse += take;
            if (_inUse > _peak) _peak = _inUse;
        }
        return new Lease(this, take);
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            _inUse -= bytes;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Bytes taken from a <see cref="PixelBudget"/>; disposing gives them back (once).</summary>
    public sealed class Lease : IDisposable
    {
        private PixelBudget? _owner;
        private readonly long _bytes;

        internal Lease(PixelBudget owner, long bytes) { _owner = owner; _bytes = bytes; }

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release(_bytes);
    }
}
