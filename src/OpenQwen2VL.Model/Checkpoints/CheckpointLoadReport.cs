namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>What <see cref="CheckpointLoader"/> did: every module tensor is loaded, tied or missing; every checkpoint tensor is used, ignored or unexpected.</summary>
public sealed record CheckpointLoadReport(
    string Source,
    IReadOnlyList<string> Loaded,
    long LoadedBytes,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Ignored,
    IReadOnlyList<string> TiedFromEmbeddings,
    IReadOnlyList<string> TiedDuplicatesSkipped,
    TimeSpan Elapsed)
{
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0;

    public override string ToString() =>
        $"{Source}: loaded {Loaded.Count} tensors ({LoadedBytes / 1e6:F1} MB stored) in {Elapsed.TotalSeconds:F2} s" +
        (TiedFromEmbeddings.Count > 0 ? $", tied {string.Join(", ", TiedFromEmbeddings)}" : "") +
        (TiedDuplicatesSkipped.Count > 0 ? $", skipped tied copies {string.Join(", ", TiedDuplicatesSkipped)}" : "") +
        (Ignored.Count > 0 ? $", ignored {Ignored.Count}" : "") +
        (Missing.Count > 0 ? $", MISSING {Missing.Count}: {CheckpointMismatchException.Sample(Missing)}" : "") +
        (Unexpected.Count > 0 ? $", UNEXPECTED {Unexpected.Count}: {CheckpointMismatchException.Sample(Unexpected)}" : "");
}

/// <summary>A checkpoint that does not fit the module: missing or unexpected names (strict mode) or different shapes.</summary>
public sealed class CheckpointMismatchException(string message) : IOException(message)
{
    internal static string Sample(IReadOnlyList<string> names, int max = 8) =>
        string.Join(", ", names.Take(max)) + (names.Count > max ? $", ... (+{names.Count - max} more)" : "");
}
