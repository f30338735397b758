using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Synthetic;

namespace OpenQwen2VL.Training.Data;

/// <summary>
/// `--data SPEC` of `oqvl train`: <c>synthetic:N</c> (N learnable packed sequences, see
/// <see cref="SyntheticCaptionSource"/>), <c>shards:SPEC</c> (packed shards, a WebDataset brace spec such as
/// <c>packed/{00000..00127}.tar</c>, see <see cref="ShardBatchSource"/>) or <c>sft:JSON,IMAGE_ROOT</c> (LLaVA-style
/// SFT annotations with image paths under IMAGE_ROOT, ChatML with loss on the replies, see <see cref="SftExampleSource"/>).
/// </summary>
public static class BatchSourceSpec
{
    /// <param name="tokenizerPath">HF tokenizer.json; needed by <c>sft:</c> only</param>
    /// <param name="visualTokensPerImage">visual tokens an image takes (for cutting SFT samples to <paramref name="contextLength"/>)</param>
    /// <param name="groupByImageCount">sft: batch examples with the same image count (<see cref="OpenQwen2VL.Data.Loading.LoaderOptions.GroupByImageCount"/>)</param>
    public static IBatchSource Open(string spec, int microBatch, int imageSize, int vocab, long seed, int rank, int world,
        string? tokenizerPath = null, int visualTokensPerImage = 1, int? contextLength = null, int groupByImageCount = 0)
    {
        int colon = spec.IndexOf(':');
        string scheme = colon < 0 ? spec : spec[..colon], arg = colon < 0 ? "" : spec[(colon + 1)..];
        return scheme switch
        {
            "synthetic" => new BatchStreamSource(new SyntheticCaptionBatches(int.TryParse(arg, out int n) && n > 0 ? n : throw new ArgumentException($"--data synthetic:N needs a positive N, got '{arg}'"),
                microBatch, imageSize, vocab, seed, rank, world)),
            "shards" => Loader(OpenQwen2VL.Data.Shards.ShardSpec.Expand(arg), new PackedShardSource(), microBatch, imageSize, seed, rank, world, new LoaderOptions().PadId, 0),
            "sft" => OpenSft(arg, microBatch, imageSize, seed, rank, world, tokenizerPath, visualTokensPerImage, contextLength, groupByImageCount),
            _ => throw new ArgumentException($"unknown --data scheme '{scheme}' (known: synthetic:N, shards:SPEC, sft:JSON,IMAGE_ROOT)"),
        };
    }

    static IBatchSource OpenSft(string arg, int microBatch, int imageSize, long seed, int rank, int world, string? tokenizerPath, int visualTokens, int? contextLength,
        int groupByImageCount)
    {
        int comma = arg.LastIndexOf(',');
        if (comma <= 0 || comma == arg.Length - 1) throw new ArgumentException($"--data sft:JSON,IMAGE_ROOT expected, got 'sft:{arg}'");
        string json = arg[..comma], imageRoot = arg[(comma + 1)..];
        if (!File.Exists(json)) throw new ArgumentException($"SFT annotations not found: {json}");
        if (!Directory.Exists(imageRoot)) throw new ArgumentException($"SFT image folder not found: {imageRoot}");
        if (tokenizerPath is null || !File.Exists(tokenizerPath)) throw new ArgumentException($"--data sft: needs a tokenizer.json (not found: {tokenizerPath ?? "none given"})");
        var tokenizer = BpeTokenizer.Load(tokenizerPath);
        var reader = new LlavaSftReader(new ChatMlPromptBuilder(tokenizer), imageRoot, contextLength, visualTokens);
        // Pad with <|endoftext|>: Qwen2's pad token, and an id inside any vocabulary this tokenizer fits.
        int padId = tokenizer.TokenToId("<|endoftext|>") ?? 0;
        return Loader([json], new SftExampleSource(reader), microBatch, imageSize, seed, rank, world, padId, groupByImageCount);
    }

    static IBatchSource Loader(IReadOnlyList<string> shards, IExampleSource examples, int microBatch, int imageSize, long seed, int rank, int world, int padId,
        int groupByImageCount) =>
        new BatchStreamSource(new LoaderBatchStream(shards, examples, ImagePreprocessor.ResizeNaive(imageSize),
            new LoaderOptions { BatchSize = microBatch, Seed = (int)seed, Rank = rank, WorldSize = world, PadId = padId, GroupByImageCount = groupByImageCount }));
}
