namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>
/// The multiple-choice benchmarks read from VLMEvalKit TSVs, by the name <c>--benchmark</c> takes. MMBench is scored
/// with circular evaluation (VLMEvalKit circulates every dataset whose name contains "mmbench", "ccbench",
/// "circular" or "mmcr"); the others are plain accuracy.
/// </summary>
public sealed record McDataset(string Name, string TsvName, bool Circular)
{
    public static readonly McDataset MMBench = new("mmbench", "MMBench_DEV_EN.tsv", Circular: true);
    public static readonly McDataset SeedBench = new("seedbench", "SEEDBench_IMG.tsv", Circular: false);
    public static readonly McDataset MMStar = new("mmstar", "MMStar.tsv", Circular: false);
    public static readonly McDataset AI2D = new("ai2d", "AI2D_TEST.tsv", Circular: false);
    public static readonly McDataset ScienceQA = new("scienceqa", "ScienceQA_TEST.tsv", Circular: false);

    public static IReadOnlyList<McDataset> All { get; } = [MMBench, SeedBench, MMStar, AI2D, ScienceQA];

    public static McDataset? ByName(string name) => All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Bounds of a multiple-choice TSV read (hostile input stays bounded by these, not by the file).</summary>
public sealed record McTsvLimits
{
    /// <summary>8 GiB: the largest VLMEvalKit MC file (SEEDBench_IMG) is well below; the file is streamed, not held.</summary>
    public long MaxFileBytes { get; init; } = 8L << 30;
    /// <summary>Characters one field may hold: an image of <see cref="MaxImageBytes"/> in base64, and some.</summary>
    public int MaxFieldChars { get; init; } = 96 << 20;
    /// <summary>Decoded bytes of one image: the evaluation's image file cap (64 MiB).</summary>
    public long MaxImageBytes { get; init; } = Vqa.VqaImageFile.MaxBytes;

    public static McTsvLimits Default { get; } = new();
}
