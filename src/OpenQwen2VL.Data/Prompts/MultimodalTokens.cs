namespace OpenQwen2VL.Data.Prompts;

/// <summary>Conventions shared by the prompt formats, the packer and the model (LLaVA/prismatic values).</summary>
public static class MultimodalTokens
{
    /// <summary>Id standing for one image in token sequences; the model splices the image's visual tokens there.</summary>
    public const int ImageMarker = -200;

    /// <summary>Label value excluded from the loss (PyTorch's cross-entropy ignore_index).</summary>
    public const int IgnoreLabel = -100;

    /// <summary>Where an image goes in prompt text.</summary>
    public const string ImagePlaceholder = "<image>";

    public const string Bos = "<s>";
    public const string ImEnd = "<|im_end|>";
    public const string ImStart = "<|im_start|>";
    public const string EndOfChunk = "<|endofchunk|>";

    /// <summary>
    /// Appends the ids of prompt text in which each <see cref="ImagePlaceholder"/> becomes <see cref="ImageMarker"/>;
    /// the text between placeholders is encoded piece by piece (as LLaVA does), so training and inference prompts
    /// tokenize alike. Returns the number of images.
    /// </summary>
    public static int EncodeWithImages(OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, string text, List<int> ids)
    {
        var parts = text.Split(ImagePlaceholder);
        for (int p = 0; p < parts.Length; p++)
        {
            if (p > 0) ids.Add(ImageMarker);
            if (parts[p].Length > 0) ids.AddRange(tokenizer.Encode(parts[p]));
        }
        return parts.Length - 1;
    }

    /// <summary>
    /// Special tokens Open-Qwen2VL adds to Qwen2.5's tokenizer, in its order: <see cref="EndOfChunk"/> ends an interleaved
    /// chunk, <see cref="Bos"/> opens a caption sample.
    /// </summary>
    public static readonly IReadOnlyList<string> AddedSpecialTokens = [EndOfChunk, Bos];

    /// <summary>
    /// A tokenizer.json with <see cref="AddedSpecialTokens"/> added where missing (after its last id, in that order), so
    /// the packer, the trainer and the model agree on every id whichever of them loads it.
    /// </summary>
    public static OpenQwen2VL.Data.Tokenization.BpeTokenizer LoadTokenizer(string tokenizerJsonPath)
    {
        var tokenizer = OpenQwen2VL.Data.Tokenization.BpeTokenizer.Load(tokenizerJsonPath);
        var missing = AddedSpecialTokens.Where(t => tokenizer.TokenToId(t) is null).ToArray();
        if (missing.Length > 0) tokenizer.AddSpecialTokens(missing);
        return tokenizer;
    }

    /// <summary>Id of a token the prompt formats need, or a clear error naming it.</summary>
    public static int RequireId(OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, string token) =>
        tokenizer.TokenToId(token) ?? throw new InvalidDataException($"tokenizer lacks {token} (add it as a special token)");
}
