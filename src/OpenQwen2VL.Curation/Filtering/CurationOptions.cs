namespace OpenQwen2VL.Curation.Filtering;

/// <summary>Settings of <see cref="CurationPipeline"/>. At most one of <see cref="Threshold"/> and <see cref="KeepFraction"/>; neither means Otsu's cut.</summary>
public sealed record CurationOptions
{
    public required string InputSpec { get; init; }
    public required string OutputDir { get; init; }
    public double? Threshold { get; init; }
    public double? KeepFraction { get; init; }
    /// <summary>Name of the score column prefix (<c>{Metric}_score</c>).</summary>
    public string Metric { get; init; } = "tiny_siglip";
    /// <summary>Optional HF tokenizer.json for the text tower's tokens (words otherwise).</summary>
    public string? TokenizerPath { get; init; }
    public string Device { get; init; } = "cpu";
    public int Seed { get; init; } = 7;
    public TinyDualEncoderConfig Encoder { get; init; } = new();
    public DualEncoderTrainingOptions Training { get; init; } = new();
    public int SamplesPerOutputShard { get; init; } = 1000;
    /// <summary>Tar members larger than this are skipped ("member_too_large") before they are read into memory.</summary>
    public long MaxMemberBytes { get; init; } = OpenQwen2VL.Data.Shards.WebDatasetReader.DefaultMaxMemberBytes;
    /// <summary>What the decoder accepts, and the budget of decode buffers in flight (<c>--decode-budget-mib</c>).</summary>
    public OpenQwen2VL.Data.Images.ImageLimits ImageLimits { get; init; } = OpenQwen2VL.Data.Images.ImageLimits.Default;

    public void Validate()
    {
        if (Threshold is not null && KeepFraction is not null) throw new ArgumentException("give --threshold or --keep-fraction, not both");
        if (KeepFraction is { } f && (f <= 0 || f > 1 || double.IsNaN(f))) throw new ArgumentException("--keep-fraction must be in (0, 1]");
        if (Threshold is { } t && (t < -1 || t > 1 || double.IsNaN(t))) throw new ArgumentException("--threshold is a cosine similarity, in [-1, 1]");
        if (Training.Epochs < 1) throw new ArgumentException("epochs must be >= 1");
        if (MaxMemberBytes < 1) throw new ArgumentException("max member bytes must be >= 1");
        if (Training.BatchSize < 2) throw new ArgumentException("batch size must be >= 2");
        // The score column {Metric}_score is a name in the keep expression the kept shards are filtered with.
        if (string.IsNullOrWhiteSpace(Metric) || Metric.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_') || char.IsAsciiDigit(Metric[0]))
            throw new ArgumentException("metric name must be letters, digits or _, not starting with a digit");
    }
}
