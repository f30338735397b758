namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Token ids with image markers (<see cref="MultimodalTokens.ImageMarker"/>) and labels of the same length
/// (<see cref="MultimodalTokens.IgnoreLabel"/> where no loss is taken, always at markers).
/// </summary>
public sealed record TokenizedSample(int[] InputIds, int[] Labels)
{
    public int ImageCount => InputIds.Count(id => id == MultimodalTokens.ImageMarker);

    /// <summary>Length once each marker is replaced by <paramref name="visualTokensPerImage"/> visual tokens.</summary>
    public int EstimatedLength(int visualTokensPerImage) => InputIds.Length + ImageCount * (visualTokensPerImage - 1);
}

public static class TokenizedSampleTruncation
{
    /// <summary>
    /// The longest prefix whose estimated length fits <paramref name="contextLength"/>; an image whose visual
    /// tokens would cross the limit is cut with everything after it (so images are never split).
    /// </summary>
    public static TokenizedSample TruncateTo(this TokenizedSample sample, int contextLength, int visualTokensPerImage)
    {
        int used = 0, keep = 0;
        foreach (int id in sample.InputIds)
        {
            int cost = id == MultimodalTokens.ImageMarker ? visualTokensPerImage : 1;
            if (used + cost > contextLength) break;
            used += cost;
            keep++;
        }
        return keep == sample.InputIds.Length ? sample : new TokenizedSample(sample.InputIds[..keep], sample.Labels[..keep]);
    }
}
