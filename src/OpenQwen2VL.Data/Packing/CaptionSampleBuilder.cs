using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// The pre-training sample of the paper: <c>&lt;s&gt; &lt;image&gt; \n caption &lt;|im_end|&gt;</c>, with
/// <c>&lt;image&gt;</c> as the marker id. Text around the marker is tokenised in two pieces, so special
/// tokens written in it are recognised and no merge crosses the image.
/// </summary>
public sealed class CaptionSampleBuilder(ITextTokenizer tokenizer, int visualTokens)
{
    public const int ImageMarker = -200;

    private readonly int[] _prefix = tokenizer.Encode("<s>");

    public int VisualTokens { get; } = visualTokens;

    /// <summary>Token ids with one <see cref="ImageMarker"/>.</summary>
    public int[] Build(string caption)
    {
        var tail = tokenizer.Encode("\n" + caption + "<|im_end|>");
        var ids = new int[_prefix.Length + 1 + tail.Length];
        _prefix.CopyTo(ids, 0);
        ids[_prefix.Length] = ImageMarker;
        tail.CopyTo(ids, _prefix.Length + 1);
        return ids;
    }

    /// <summary>Length the sample takes in the model's sequence: each marker becomes <see cref="VisualTokens"/> tokens.</summary>
    public int EstimatedLength(ReadOnlySpan<int> ids)
    {
        int markers = 0;
        foreach (var id in ids) if (id == ImageMarker) markers++;
        return ids.Length + markers * (VisualTokens - 1);
    }
}
