using System.Text.Json.Serialization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>Counts of a pass over input samples: every input is kept or skipped with a reason (input = kept + skipped).</summary>
public sealed class SampleStats
{
    [JsonPropertyName("input_samples")] public long Input { get; private set; }
    [JsonPropertyName("kept")] public long Kept { get; private set; }
    /// <summary>Kept samples that were cut to the context length (a subset of <see cref="Kept"/>).</summary>
    [JsonPropertyName("truncated")] public long Truncated { get; private set; }
    [JsonPropertyName("skipped")] public SortedDictionary<string, long> Skipped { get; } = new(StringComparer.Ordinal);

    [JsonIgnore] public long SkippedTotal => Skipped.Values.Sum();

    public void Keep(bool truncated = false)
    {
        Input++;
        Kept++;
        if (truncated) Truncated++;
    }

    public void Skip(string reason)
    {
        Input++;
        Skipped[reason] = Skipped.GetValueOrDefault(reason) + 1;
    }
}
