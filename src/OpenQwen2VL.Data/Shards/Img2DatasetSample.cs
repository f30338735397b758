namespace OpenQwen2VL.Data.Shards;

/// <summary>An image-text pair in img2dataset layout (<c>KEY.jpg|jpeg|png|webp</c>, <c>KEY.txt</c>, optional <c>KEY.json</c>).</summary>
public sealed class Img2DatasetSample
{
    public required string Key { get; init; }
    /// <summary>The <c>uid</c> of KEY.json, or the key when there is none.</summary>
    public required string Uid { get; init; }
    public required string Caption { get; init; }
    /// <summary>Extension of the image member ("jpg", "jpeg", "png" or "webp").</summary>
    public required string ImageExtension { get; init; }
    public required byte[] Image { get; init; }
    /// <summary>Byte offset of the image data in its shard, or -1 when unknown.</summary>
    public long ImageOffset { get; init; } = -1;
}
