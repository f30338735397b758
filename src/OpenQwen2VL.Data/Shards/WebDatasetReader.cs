using System.Formats.Tar;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Streams WebDataset samples out of a tar shard (System.Formats.Tar): only the current sample's members
/// are in memory. Consecutive members with the same key form one sample.
/// <para>
/// Accounting contract: every sample the reader yields is counted once as input in the given
/// <see cref="SkipStats"/>; the caller must then <see cref="SkipStats.Keep"/> or <see cref="SkipStats.Skip"/> it.
/// Samples lost to damage are counted as input and skipped here: "truncated_tar" (a tar cut inside the sample),
/// "corrupt_tar" (a header that cannot be read, e.g. a PAX or GNU long-name header claiming gigabytes: the rest
/// of the shard is lost, counted as one sample since how many it held is unknown), "member_too_large" (a member
/// over the per-member cap) or <see cref="SampleKeys.UnsafeKey"/> (a member named <c>../x</c>, <c>/x</c>, or with
/// control characters). A damaged shard keeps every sample before the damage and is listed in
/// <see cref="SkipStats.DamagedShards"/>, as is a missing or unreadable one; an empty shard is fine. Nothing
/// a shard holds makes the reader throw: a job goes on with the next shard.
/// </para>
/// </summary>
public static class WebDatasetReader
{
    /// <summary>
    /// Members larger than this are not read (a corrupt header could claim gigabytes): 64 MiB, far above any image or
    /// caption of a pre-training set (img2dataset resizes; packed shards hold at most a few re-encoded images per member).
    /// </summary>
    public const long DefaultMaxMemberBytes = 64L << 20;

    public const string TruncatedTar = "truncated_tar";
    public const string CorruptTar = "corrupt_tar";
    public const string MemberTooLarge = "member_too_large";

    public static IEnumerable<WebDatasetSample> Read(string path, SkipStats? stats = null, long maxMemberBytes = DefaultMaxMemberBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxMemberBytes);
        FileStream? file = TryOpen(path, stats);
        if (file is null) yield break;
        using (file)
        {
            using var tar = new TarReader(file, leaveOpen: true);
            string? pendingKey = null;
            Dictionary<string, byte[]>? pending = null;
            Dictionary<string, long>? pendingOffsets = null;
            string? pendingSkip = null;
            int index = 0;
            while (true)
            {
                var step = NextMember(tar, file, maxMemberBytes, out string? name, out byte[]? data, out long offset, out string? error);
                if (step == Step.End) break;
                string? key = null, ext = null;
                if (name is not null) (key, ext) = WebDatasetSample.SplitName(name);
                bool sameSample = pending is not null && key == pendingKey;
                if (step is Step.Truncated or Step.Corrupt)
                {
                    stats?.MarkDamagedShard(path, error!);
                    if (pending is not null && !sameSample && Finish(path, pendingKey!, pending, pendingOffsets!, pendingSkip, index++, stats) is { } before)
                        yield return before;
                    // Data damage: the member's sample (with its members read before) is lost. Header damage
                    // (key unknown): a cut header loses nothing known; a corrupt one loses the rest of the shard.
                    if (key is not null || step == Step.Corrupt)
                    {
                        stats?.CountInput();
                        stats?.Skip(key is not null && step == Step.Truncated ? TruncatedTar : CorruptTar);
                    }
                    yield break;
                }
                if (!sameSample)
                {
                    if (pending is not null && Finish(path, pendingKey!, pending, pendingOffsets!, pendingSkip, index++, stats) is { } done)
                        yield return done;
                    pending = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                    pendingOffsets = new Dictionary<string, long>(StringComparer.Ordinal);
                    pendingKey = key;
                    pendingSkip = null;
                }
                if (!SampleKeys.IsSafe(name!) || SampleKeys.KeyProblem(key!) is not null) pendingSkip ??= SampleKeys.UnsafeKey;
                if (step == Step.Oversized) pendingSkip ??= MemberTooLarge;
                if (pendingSkip is not null) pending!.Clear(); // a sample already lost keeps no bytes
                else
                {
                    pending![ext!] = data!;
                    pendingOffsets![ext!] = offset;
                }
            }
            if (pending is not null && Finish(path, pendingKey!, pending, pendingOffsets!, pendingSkip, index, stats) is { } last)
                yield return last;
        }
    }

    private enum Step { Member, Oversized, Truncated, Corrupt, End }

    private static WebDatasetSample? Finish(string path, string key, Dictionary<string, byte[]> members,
        Dictionary<string, long> offsets, string? skip, int index, SkipStats? stats)
    {
        stats?.CountInput();
        if (skip is not null)
        {
            stats?.Skip(skip);
            return null;
        }
        return new WebDatasetSample { Key = key, ShardPath = path, Members = members, MemberOffsets = offsets, IndexInShard = index };
    }

    private static FileStream? TryOpen(string path, SkipStats? stats)
    {
        try
        {
            // Typed before it is opened: a FIFO would block the open, a device never end.
            var kind = RegularFile.KindOf(path);
            if (kind is not (FileKind.Regular or FileKind.Missing))
            {
                stats?.MarkDamagedShard(path, "not_a_file");
                return null;
            }
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
                if (entry.Length > maxMemberBytes) return Step.Oversized; // checked before anything is allocated
                // The reader has skipped past the data and its padding: a member running past the end of the file
                // is truncated, found without allocating its claimed size.
                long dataEnd = file.Position - (512 - entry.Length % 512) % 512;
                if (dataEnd > file.Length)
                {
                    error = "truncated";
                    return Step.Truncated;
                }
                data = new byte[entry.Length];
                entry.DataStream?.ReadExactly(data);
                offset = file.Position - data.Length; // a seekable stream's member data is read in place
                if (entry.DataStream is null && entry.Length > 0) throw new EndOfStreamException("member data missing");
                return Step.Member;
            }
            return Step.End;
        }
        // System.Formats.Tar reports damage with several types: InvalidOperationException for a metadata (PAX 'x',
        // GNU 'L'/'K') header whose size is over its limit, NotSupportedException for entry types it cannot read
        // (GNU sparse 'S'), InvalidDataException/FormatException/ArgumentException/OverflowException for bad fields.
        catch (Exception e) when (e is EndOfStreamException)
        {
            error = "truncated";
            return Step.Truncated;
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or ArgumentException or OverflowException
                                      or InvalidOperationException or NotSupportedException)
        {
            error = $"corrupt ({e.GetType().Name}: {FirstLine(e.Message)})";
            return Step.Corrupt;
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
