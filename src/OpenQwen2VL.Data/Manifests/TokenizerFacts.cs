using System.Text.Json.Serialization;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>What a consumer of token ids must agree with: the tokenizer's fingerprint, its size and the special-token ids.</summary>
public sealed record TokenizerFacts
{
    [JsonPropertyName("fingerprint")] public required string Fingerprint { get; init; }
    /// <summary>Ids 0..VocabSize-1 can occur: an embedding table needs at least this many rows.</summary>
    [JsonPropertyName("vocab_size")] public required int VocabSize { get; init; }
    [JsonPropertyName("special_ids")] public Dictionary<string, int> SpecialIds { get; init; } = [];

    static readonly string[] Specials =
        [MultimodalTokens.Bos, MultimodalTokens.ImStart, MultimodalTokens.ImEnd, MultimodalTokens.EndOfChunk, "<|endoftext|>"];

    public static TokenizerFacts Of(ITextTokenizer tokenizer) => new()
    {
        Fingerprint = tokenizer.Fingerprint,
        VocabSize = tokenizer.VocabSize,
        SpecialIds = Specials.Select(t => (t, Id: tokenizer.TokenToId(t))).Where(x => x.Id is not null).ToDictionary(x => x.t, x => x.Id!.Value),
    };

    /// <summary>Short form for messages: the first 12 hex digits and the size.</summary>
    public string Describe() => $"{Fingerprint[..Math.Min(12, Fingerprint.Length)]} ({VocabSize:N0} ids)";
}
