using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Data.Packing;

/// <summary>One training sample cut from an interleaved document: `&lt;s&gt;` and whole chunks, with their images.</summary>
public sealed record InterleavedSample(int[] Ids, IReadOnlyList<byte[]> Images, int Length);

/// <summary>
/// Cuts a document longer than the context into several samples at chunk boundaries (<see cref="InterleavedChunk"/>):
/// chunks are taken in order while the sample's estimated length (ids, each image marker counting as the visual
/// tokens it becomes) fits the capacity; each sample starts with `&lt;s&gt;` and carries the images of its chunks, so an
/// image's tokens are never cut and text stays next to the images it follows. A single chunk that does not fit alone is
/// the document's problem: with <see cref="OverCapacityPolicy.Drop"/> the document is skipped ("over_capacity"); with
/// <see cref="OverCapacityPolicy.Truncate"/> the chunk's text is cut at its end (its images come first, so they stay
/// whole), and the document is skipped only when even the chunk's images do not fit.
/// </summary>
public static class InterleavedSampleSplitter
{
    /// <returns>the samples in document order, or null when the document cannot be cut (<see cref="PackPipeline.OverCapacity"/>)</returns>
    public static IReadOnlyList<InterleavedSample>? Split(IReadOnlyList<InterleavedChunk> chunks, int bos, int capacity, int visualTokens,
        OverCapacityPolicy policy, out int truncatedChunks)
    {
        truncatedChunks = 0;
        var samples = new List<InterleavedSample>();
        var ids = new List<int> { bos };
        var images = new List<byte[]>();
        int length = 1;
        foreach (var chunk in chunks)
        {
            var chunkIds = chunk.Ids;
            int chunkLength = Length(chunkIds, visualTokens);
            if (1 + chunkLength > capacity)
            {
                if (policy == OverCapacityPolicy.Drop) return null;
                int keep = chunkIds.Length - (1 + chunkLength - capacity);
                if (keep <= Array.LastIndexOf(chunkIds, MultimodalTokens.ImageMarker)) return null;
                chunkIds = chunkIds[..keep];
                chunkLength = Length(chunkIds, visualTokens);
                truncatedChunks++;
            }
            if (length + chunkLength > capacity)
            {
                samples.Add(new InterleavedSample([.. ids], [.. images], length));
                ids = [bos];
                images = [];
                length = 1;
            }
            ids.AddRange(chunkIds);
            images.AddRange(chunk.Images);
            length += chunkLength;
        }
        if (ids.Count > 1) samples.Add(new InterleavedSample([.. ids], [.. images], length));
        return samples;
    }

    /// <summary>Length in the model's sequence: each marker becomes <paramref name="visualTokens"/> tokens.</summary>
    public static int Length(ReadOnlySpan<int> ids, int visualTokens)
    {
        int markers = ids.Count(MultimodalTokens.ImageMarker);
        return ids.Length + markers * (visualTokens - 1);
    }
}
