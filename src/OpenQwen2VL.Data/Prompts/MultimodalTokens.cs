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

    /// <summary>Id of a token the prompt formats need, or a clear error naming it.</summary>
    public static int RequireId(OpenQwen2VL.Data.Tokenization.ITextTokenizer tokenizer, string token) =>
        tokenizer.TokenToId(token) ?? throw new InvalidDataException($"tokenizer lacks {token} (add it as a special token)");
}
