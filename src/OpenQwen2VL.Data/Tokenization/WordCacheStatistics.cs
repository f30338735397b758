namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The state of a <see cref="BpeTokenizer"/>'s word cache: how full it is, and how many pre-tokenized words were
/// found in it (hits) or BPE-encoded (misses) since the tokenizer was loaded.
/// </summary>
public readonly record struct WordCacheStatistics(int Entries, int Capacity, long Hits, long Misses)
{
    /// <summary>Hits over all words looked up (0 before any).</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    /// <summary>The counts since an earlier snapshot (entries and capacity are this one's).</summary>
    public WordCacheStatistics Since(WordCacheStatistics earlier) => this with { Hits = Hits - earlier.Hits, Misses = Misses - earlier.Misses };
}
