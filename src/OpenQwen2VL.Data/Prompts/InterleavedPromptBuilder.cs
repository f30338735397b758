using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Token sequence of an interleaved document: `&lt;s&gt;`, then per item either `&lt;image&gt;` "\n" or the text
/// chunk followed by `&lt;|endofchunk|&gt;`. As in the caption sample, the newline after an image is encoded
/// together with the text that follows it. Everything but the markers is trained on. Text chunks are plain
/// text: an `&lt;image&gt;` written inside one is not an image.
/// </summary>
public sealed class InterleavedPromptBuilder
{
    private readonly ITextTokenizer _tokenizer;
    private readonly int _bos, _endOfChunk;

    public InterleavedPromptBuilder(ITextTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _bos = MultimodalTokens.RequireId(tokenizer, MultimodalTokens.Bos);
        _endOfChunk = MultimodalTokens.RequireId(tokenizer, MultimodalTokens.EndOfChunk);
    }

    /// <summary>The sample and the image bytes in marker order.</summary>
    public (TokenizedSample Sample, IReadOnlyList<byte[]> Images) Build(InterleavedDocument doc)
    {
        var ids = new List<int> { _bos };
        var images = new List<byte[]>();
        string pending = "";  // "\n" after an image, waiting to be encoded with the next text
        foreach (var item in doc.Items)
        {
            switch (item)
            {
                case InterleavedItem.Image image:
                    if (pending.Length > 0) ids.AddRange(_tokenizer.Encode(pending));
                    ids.Add(MultimodalTokens.ImageMarker);
                    images.Add(image.Bytes);
                    pending = "\n";
                    break;
                case InterleavedItem.Text text:
                    ids.AddRange(_tokenizer.Encode(pending + text.Value));
                    ids.Add(_endOfChunk);
                    pending = "";
                    break;
            }
        }
        if (pending.Length > 0) ids.AddRange(_tokenizer.Encode(pending));
        int[] idArray = [.. ids];
        int[] labels = [.. idArray.Select(id => id == MultimodalTokens.ImageMarker ? MultimodalTokens.IgnoreLabel : id)];
        return (new TokenizedSample(idArray, labels), images);
    }
}
