using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Pre-training sample of an image-caption pair: `&lt;s&gt;` `&lt;image&gt;` "\n" caption `&lt;|im_end|&gt;`.
/// "\n" + caption is encoded as one string (as the reference does), so its first token may merge with the
/// newline. Every token but the marker is trained on.
/// </summary>
public sealed class CaptionPromptBuilder
{
    private readonly ITextTokenizer _tokenizer;
    private readonly int _bos, _eos;

    public CaptionPromptBuilder(ITextTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _bos = MultimodalTokens.RequireId(tokenizer, MultimodalTokens.Bos);
        _eos = MultimodalTokens.RequireId(tokenizer, MultimodalTokens.ImEnd);
    }

    public TokenizedSample Build(string caption)
    {
        int[] text = _tokenizer.Encode("\n" + caption);
        var ids = new int[text.Length + 3];
        ids[0] = _bos;
        ids[1] = MultimodalTokens.ImageMarker;
        text.CopyTo(ids, 2);
        ids[^1] = _eos;
        var labels = (int[])ids.Clone();
        labels[1] = MultimodalTokens.IgnoreLabel;
        return new TokenizedSample(ids, labels);
    }
}
