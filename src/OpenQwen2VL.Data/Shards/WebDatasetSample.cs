namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// One WebDataset sample: the consecutive tar members that share a key (file name up to the first dot of
/// its basename), indexed by extension (the rest of the basename: "jpg", "txt", "img000.jpg", ...).
/// </summary>
public sealed class WebDatasetSample
{
    public required string Key { get; init; }
    public required string ShardPath { get; init; }
    public required IReadOnlyDictionary<string, byte[]> Members { get; init; }

    /// <summary>Byte offset of each member's data in the shard file (for reading it again later without the tar).</summary>
    public IReadOnlyDictionary<string, long>? MemberOffsets { get; init; }

    /// <summary>Position of the sample within its shard (0-based, counting every sample the reader met).</summary>
    public int IndexInShard { get; init; }

    public byte[]? Get(string extension) => Members.TryGetValue(extension, out var b) ? b : null;

    /// <summary>Splits a member name into (key, extension), WebDataset style; the directory stays in the key.</summary>
    public static (string Key, string Extension) SplitName(string memberName)
    {
        int slash = memberName.LastIndexOf('/');
        int dot = memberName.IndexOf('.', slash + 1);
        return dot < 0 ? (memberName, "") : (memberName[..dot], memberName[(dot + 1)..]);
    }
}
