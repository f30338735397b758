namespace OpenQwen2VL.Data.Prompts;

/// <summary>Limits and permissions of <see cref="LlavaSftReader"/> for annotation files that may come from anywhere.</summary>
public sealed record SftReadOptions
{
    /// <summary>
    /// Read images named by absolute paths or paths leading out of the image root (<c>..</c>, symlinks). Off by
    /// default: only for annotation files you trust. Type and size checks apply either way.
    /// </summary>
    public bool AllowImagesOutsideRoot { get; init; }

    /// <summary>Images larger than this are skipped ("image_too_large") without being read.</summary>
    public long MaxImageBytes { get; init; } = SftImageRoot.DefaultMaxImageBytes;

    /// <summary>
    /// Records (a JSON array element or a JSONL line) longer than this are skipped ("record_too_long") while the file
    /// is scanned, before any of their text is decoded or tokenised: 8 MiB, a hundred times a long multi-turn LLaVA
    /// record, so one 250 MB "caption" costs at most this much memory.
    /// </summary>
    public int MaxRecordBytes { get; init; } = 8 << 20;
}
