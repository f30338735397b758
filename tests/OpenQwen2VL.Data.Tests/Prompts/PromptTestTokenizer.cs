using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Prompts;

internal static class PromptTestTokenizer
{
    private static readonly Lazy<BpeTokenizer> s_tokenizer = new(() => BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")));

    public static BpeTokenizer Instance => s_tokenizer.Value;

    /// <summary>Decodes ids with each image marker written back as `&lt;image&gt;`.</summary>
    public static string DecodeWithPlaceholders(IEnumerable<int> ids)
    {
        var parts = new List<string>();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (id != MultimodalTokens.ImageMarker) { run.Add(id); continue; }
            parts.Add(Instance.Decode(run.ToArray()) + MultimodalTokens.ImagePlaceholder);
            run.Clear();
        }
        parts.Add(Instance.Decode(run.ToArray()));
        return string.Concat(parts);
    }

    /// <summary>Maximal runs of trained labels, decoded.</summary>
    public static List<string> TrainedSpans(TokenizedSample s)
    {
        var spans = new List<string>();
        var run = new List<int>();
        for (int i = 0; i <= s.Labels.Length; i++)
        {
            if (i < s.Labels.Length && s.Labels[i] != MultimodalTokens.IgnoreLabel) { run.Add(s.Labels[i]); continue; }
            if (run.Count > 0) spans.Add(Instance.Decode(run.ToArray()));
            run.Clear();
        }
        return spans;
    }
}
