using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// Turns a caption into bucket ids for a bag-of-tokens text tower: the tokenizer's ids (or, without a
/// tokenizer, lower-cased words), optionally with their bigrams, hashed (FNV-1a) into [1, buckets); 0 is padding.
/// Unigrams alone generalise best on small data; bigrams tell "red circle" from "circle ... red background".
/// </summary>
public sealed class CaptionFeaturizer(int buckets, ITextTokenizer? tokenizer = null, bool bigrams = false, int maxFeatures = 64)
{
    public int Buckets { get; } = buckets > 1 ? buckets : throw new ArgumentOutOfRangeException(nameof(buckets));

    public int[] Featurize(string caption)
    {
        var units = tokenizer is not null
            ? tokenizer.Encode(caption).Select(id => (uint)id * 2654435761u).ToArray()
            : Words(caption).Select(Fnv).ToArray();
        var features = new List<int>(2 * units.Length);
        for (int i = 0; i < units.Length && features.Count < maxFeatures; i++)
        {
            features.Add(Bucket(units[i]));
            if (bigrams && i + 1 < units.Length) features.Add(Bucket(Mix(units[i], units[i + 1])));
        }
        return features.Take(maxFeatures).ToArray();
    }

    /// <summary>Pads a batch of feature lists with 0 into a [B, L] row-major array.</summary>
    public static (long[] Ids, int Length) Pad(IReadOnlyList<int[]> batch)
    {
        int length = Math.Max(1, batch.Max(f => f.Length));
        var ids = new long[batch.Count * length];
        for (int b = 0; b < batch.Count; b++)
            for (int i = 0; i < batch[b].Length; i++) ids[b * length + i] = batch[b][i];
        return (ids, length);
    }

    private int Bucket(uint h) => 1 + (int)(h % (uint)(Buckets - 1));

    private static uint Mix(uint a, uint b) => unchecked((a ^ 0x9E3779B9u) * 16777619u + b * 2246822519u);

    private static IEnumerable<string> Words(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c)) sb.Append(c);
            else if (sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
        }
        if (sb.Length > 0) yield return sb.ToString();
    }

    private static uint Fnv(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = unchecked((h ^ c) * 16777619);
        return h;
    }
}
