using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>What <c>oqvl serve</c> listens on and the limits it enforces on requests.</summary>
public sealed record ServeSettings
{
    /// <summary>The name <c>/v1/models</c> lists; requests may name it or "any".</summary>
    public required string ModelName { get; init; }
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>Most requests decoded together.</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>Most requests waiting beyond the running batch; more are answered 429.</summary>
    public int MaxQueue { get; init; } = 64;
    /// <summary>Requests must carry <c>Authorization: Bearer</c> this key (null: open).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Whether <c>file://</c> image URLs are read from this machine's disk.</summary>
    public bool AllowLocalFiles { get; init; }
    public long MaxBodyBytes { get; init; } = 32L << 20;
    public int MaxImages { get; init; } = 8;
    /// <summary>Bytes and pixels of one image (decompression bombs are refused before decoding).</summary>
    public ImageLimits ImageLimits { get; init; } = new(MaxPixels: 40_000_000, MaxBytes: 16L << 20);
    /// <summary>max_tokens when a request gives none (still capped by the context).</summary>
    public int DefaultMaxTokens { get; init; } = 256;
    /// <summary>How long a stopping server lets running requests finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
