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

    /// <summary>Id of a token the prompt formats need, or a clear error naming it.</summary>
    public static int RequireId(OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, string token) =>
        tokenizer.TokenToId(token) ?? throw new InvalidDataException($"tokenizer lacks {token} (add it as a special token)");
}
