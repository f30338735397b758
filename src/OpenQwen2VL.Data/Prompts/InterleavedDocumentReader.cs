using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// One interleaved document as read from its file, not parsed yet: its JSON bytes and, for a WebDataset sample, the
/// resolver of its image members; or the reason it has none (<see cref="Error"/>, counted as a skip).
/// </summary>
public sealed record RawInterleavedDocument(string Uid, byte[]? Json, Func<string, byte[]?>? Member, string? Error, long Bytes);

/// <summary>
/// Streams interleaved documents (OBELICS / MMC4 JSON, <see cref="InterleavedDocument"/>) from
/// <list type="bullet">
/// <item>JSONL (or a JSON array) files: one document per line, images inline as `image_info[].image_base64`;</item>
/// <item>WebDataset shards (<c>.tar</c>): one document per sample, its <c>KEY.json</c>; an `image_info` entry either
/// embeds its image (`image_base64`) or names another member of the same sample in `image_name`, by the part of the
/// member's file name after the key (<c>doc7.0.jpg</c> → <c>"0.jpg"</c>) or by the whole file name (<c>"doc7.0.jpg"</c>).</item>
/// </list>
/// Every document is counted once as input in the stats; records that cannot even be split out (a line over the size
/// cap, a broken JSON array) come back with their <see cref="RawInterleavedDocument.Error"/> for the caller to count
/// as skipped, as do tar samples without a <c>json</c> member.
/// </summary>
public static class InterleavedDocumentReader
{
    public const string MissingDocumentJson = "missing_document_json";

    /// <summary>Whether <paramref name="path"/> is read as WebDataset shard (else as JSONL / JSON array).</summary>
    public static bool IsShard(string path) => path.EndsWith(".tar", StringComparison.OrdinalIgnoreCase);

    public static IEnumerable<RawInterleavedDocument> Read(string path, SkipStats stats, long maxDocumentBytes) =>
        IsShard(path) ? ReadShard(path, stats, maxDocumentBytes) : ReadJsonLines(path, stats, (int)Math.Min(int.MaxValue, maxDocumentBytes));

    private static IEnumerable<RawInterleavedDocument> ReadJsonLines(string path, SkipStats stats, int maxDocumentBytes)
    {
        FileStream file;
        try { file = RegularFile.OpenRead(path, "an interleaved JSONL file", 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            stats.MarkDamagedShard(path, e is FileNotFoundException or DirectoryNotFoundException ? "missing" : "unreadable");
            yield break;
        }
        using (file)
        {
            int index = 0;
            string name = Path.GetFileName(path);
            foreach (var record in JsonRecordSplitter.Split(file, maxDocumentBytes))
            {
                stats.CountInput();
                yield return new RawInterleavedDocument($"{name}:{index++}", record.Bytes, null, record.Error, record.Bytes?.Length ?? 0);
            }
        }
    }

    private static IEnumerable<RawInterleavedDocument> ReadShard(string path, SkipStats stats, long maxMemberBytes)
    {
        string name = Path.GetFileName(path);
        foreach (var sample in WebDatasetReader.Read(path, stats, maxMemberBytes)) // counts each sample as input
        {
            long bytes = sample.Members.Values.Sum(m => (long)m.Length);
            var json = sample.Get("json");
            string uid = $"{name}:{sample.Key}";
            if (json is null) { yield return new RawInterleavedDocument(uid, null, null, MissingDocumentJson, bytes); continue; }
            string prefix = Path.GetFileName(sample.Key) + ".";
            byte[]? Member(string imageName)
            {
                if (imageName.StartsWith(prefix, StringComparison.Ordinal)) imageName = imageName[prefix.Length..];
                return imageName != "json" && sample.Members.TryGetValue(imageName, out var m) ? m : null;
            }
            yield return new RawInterleavedDocument(uid, json, Member, null, bytes);
        }
    }
}
