using System.Formats.Tar;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Streams WebDataset samples out of a tar shard (System.Formats.Tar): only the current sample's members
/// are in memory. Consecutive members with the same key form one sample.
/// <para>
/// Accounting contract: every sample the reader yields is counted once as input in the given
/// <see cref="SkipStats"/>; the caller must then <see cref="SkipStats.Keep"/> or <see cref="SkipStats.Skip"/> it.
/// Samples lost to damage are counted as input and skipped here: "truncated_tar" (a tar cut or corrupt
/// inside the sample) or "member_too_large". A damaged shard keeps every sample before the damage; a
/// missing or unreadable shard is recorded in <see cref="SkipStats.DamagedShards"/>; an empty shard is fine.
/// </para>
/// </summary>
public static class WebDatasetReader
{
    /// <summary>Members larger than this are not read (a corrupt header could claim gigabytes).</summary>
    public const long DefaultMaxMemberBytes = 256L << 20;

    public static IEnumerable<WebDatasetSample> Read(string path, SkipStats? stats = null, long maxMemberBytes = DefaultMaxMemberBytes)
    {
        FileStream? file = TryOpen(path, stats);
        if (file is null) yield break;
        using (file)
        {
            using var tar = new TarReader(file, leaveOpen: true);
            string? pendingKey = null;
            Dictionary<string, byte[]>? pending = null;
            Dictionary<string, long>? pendingOffsets = null;
            bool pendingOversized = false;
            int index = 0;
            while (true)
            {
                var step = NextMember(tar, file, maxMemberBytes, out string? name, out byte[]? data, out long offset, out string? error);
                if (step == Step.End) break;
                string? key = null, ext = null;
                if (name is not null) (key, ext) = WebDatasetSample.SplitName(name);
                bool sameSample = pending is not null && key == pendingKey;
                if (step == Step.Damaged)
                {
                    stats?.MarkDamagedShard(path, error!);
                    if (pending is not null && !sameSample && Finish(path, pendingKey!, pending, pendingOffsets!, pendingOversized, index++, stats) is { } before)
                        yield return before;
                    // Data damage: the member's sample (with its members read before) is lost. Header damage
                    // (key unknown): nothing more is known, the pending sample was kept above.
                    if (key is not null)
                    {
                        stats?.CountInput();
                        stats?.Skip("truncated_tar");
                    }
                    yield break;
                }
                if (!sameSample)
                {
                    if (pending is not null && Finish(path, pendingKey!, pending, pendingOffsets!, pendingOversized, index++, stats) is { } done)
                        yield return done;
                    pending = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                    pendingOffsets = new Dictionary<string, long>(StringComparer.Ordinal);
                    pendingKey = key;
                    pendingOversized = false;
                }
                if (step == Step.Oversized) pendingOversized = true;
                else
                {
                    pending![ext!] = data!;
                    pendingOffsets![ext!] = offset;
                }
            }
            if (pending is not null && Finish(path, pendingKey!, pending, pendingOffsets!, pendingOversized, index, stats) is { } last)
                yield return last;
        }
    }

    private enum Step { Member, Oversized, Damaged, End }

    private static WebDatasetSample? Finish(string path, string key, Dictionary<string, byte[]> members,
        Dictionary<string, long> offsets, bool oversized, int index, SkipStats? stats)
    {
        stats?.CountInput();
        if (oversized)
        {
            stats?.Skip("member_too_large");
            return null;
        }
        return new WebDatasetSample { Key = key, ShardPath = path, Members = members, MemberOffsets = offsets, IndexInShard = index };
    }

    private static FileStream? TryOpen(string path, SkipStats? stats)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stats?.MarkDamagedShard(path, e is FileNotFoundException or DirectoryNotFoundException ? "missing" : "unreadable");
            return null;
        }
    }

    // Not an iterator, so it may catch: C# forbids yield inside try/catch.
    private static Step NextMember(TarReader tar, FileStream file, long maxMemberBytes, out string? name, out byte[]? data, out long offset, out string? error)
    {
        name = null; data = null; error = null; offset = -1;
        try
        {
            while (tar.GetNextEntry(copyData: false) is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile))
                    continue; // directories, links, ...: not sample members
                name = entry.Name;
                if (entry.Length > maxMemberBytes) return Step.Oversized;
                data = new byte[entry.Length];
                entry.DataStream?.ReadExactly(data);
                offset = file.Position - data.Length; // a seekable stream's member data is read in place
                if (entry.DataStream is null && entry.Length > 0) throw new EndOfStreamException("member data missing");
                return Step.Member;
            }
            return Step.End;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException or IOException or ArgumentException or OverflowException)
        {
            error = e is EndOfStreamException ? "truncated" : "corrupt";
            return Step.Damaged;
        }
    }
}
