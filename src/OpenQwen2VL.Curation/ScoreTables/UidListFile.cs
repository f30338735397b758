namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// A uid list for <c>in(NAME)</c>: DataComp's .npy of 128-bit uids (<see cref="NpyUidFile"/>), or text with one uid per
/// line (blank lines skipped). Held as a set of 128-bit keys: about 30 bytes per uid (16-byte key, hash code, chain link,
/// bucket): ~30 MB per million uids, some 0.6 GB for a 19M-uid subset.
/// </summary>
public static class UidListFile
{
    public static HashSet<UInt128> Load(string path)
    {
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var set = new HashSet<UInt128>((int)Math.Min(NpyUidFile.Count(path), 1 << 28));
            NpyUidFile.Read(path, uid => set.Add(uid));
            return set;
        }
        var uids = new HashSet<UInt128>();
        using var reader = new BoundedLineReader(path, "a uid list (.npy or text, one uid per line)", maxLineBytes: 4096);
        while (reader.TryReadLine(out var line))
        {
            var uid = line.Trim();
            if (uid.Length > 0) uids.Add(SampleUid.Key(uid));
        }
        return uids;
    }
}
