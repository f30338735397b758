using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// A run of an interleaved document that is never cut: the images before a text chunk (each `&lt;image&gt;` "\n"), the
/// chunk and its `&lt;|endofchunk|&gt;` (or, at the document's end, images with no text after them).
/// <see cref="Images"/> are in the order of the <see cref="MultimodalTokens.ImageMarker"/>s in <see cref="Ids"/>.
/// </summary>
public sealed record InterleavedChunk(int[] Ids, IReadOnlyList<byte[]> Images);

/// <summary>
/// Token sequence of an interleaved document: `&lt;s&gt;`, then per item either `&lt;image&gt;` "\n" or the text
/// chunk followed by `&lt;|endofchunk|&gt;`. As in the caption sample, the newline after an image is encoded
/// together with the text that follows it. Everything but the markers is trained on. Text chunks are plain
/// text: an `&lt;image&gt;` written inside one is not an image. Images that could not be had are left out.
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

    public int BosId => _bos;

    /// <summary>The sample and the image bytes in marker order.</summary>
    public (TokenizedSample Sample, IReadOnlyList<byte[]> Images) Build(InterleavedDocument doc)
    {
        var chunks = Chunks(doc);
        int[] ids = [_bos, .. chunks.SelectMany(c => c.Ids)];
        return (Sample(ids), [.. chunks.SelectMany(c => c.Images)]);
    }

    /// <summary>Labels of a sequence: its ids, ignored at image markers.</summary>
    public static TokenizedSample Sample(int[] ids) =>
        new(ids, [.. ids.Select(id => id == MultimodalTokens.ImageMarker ? MultimodalTokens.IgnoreLabel : id)]);

    /// <summary>The document's chunks in order; `&lt;s&gt;` followed by all of them is <see cref="Build"/>'s sequence.</summary>
    public IReadOnlyList<InterleavedChunk> Chunks(InterleavedDocument doc)
    {
        var chunks = new List<InterleavedChunk>();
        var ids = new List<int>();
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
                    chunks.Add(new InterleavedChunk([.. ids], [.. images]));
                    ids.Clear();
                    images.Clear();
                    break;
            }
        }
        if (pending.Length > 0) ids.AddRange(_tokenizer.Encode(pending));
        if (ids.Count > 0) chunks.Add(new InterleavedChunk([.. ids], [.. images]));
        return chunks;
    }
}
