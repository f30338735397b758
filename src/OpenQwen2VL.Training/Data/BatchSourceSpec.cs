namespace OpenQwen2VL.Training.Data;

/// <summary>
/// `--data SPEC` of `oqvl train`: <c>synthetic:N</c> (N learnable packed sequences, see
/// <see cref="SyntheticCaptionSource"/>) or <c>shards:SPEC</c> (packed shards, a WebDataset brace spec such as
/// <c>packed/{00000..00127}.tar</c>, see <see cref="ShardBatchSource"/>).
/// </summary>
public static class BatchSourceSpec
{
    public static IBatchSource Open(string spec, int microBatch, int imageSize, int vocab, long seed, int rank, int world)
    {
        int colon = spec.IndexOf(':');
        string scheme = colon < 0 ? spec : spec[..colon], arg = colon < 0 ? "" : spec[(colon + 1)..];
        return scheme switch
        {
            "synthetic" => new SyntheticCaptionSource(int.TryParse(arg, out int n) && n > 0 ? n : throw new ArgumentException($"--data synthetic:N needs a positive N, got '{arg}'"),
                microBatch, imageSize, vocab, seed, rank, world),
            "shards" => new ShardBatchSource(OpenQwen2VL.Data.Shards.ShardSpec.Expand(arg), microBatch, imageSize, (int)seed, rank, world),
            _ => throw new ArgumentException($"unknown --data scheme '{scheme}' (known: synthetic:N, shards:SPEC)"),
        };
    }
}
