namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Which tar member names (sample key plus extension) are safe to write into a shard: relative paths without
/// <c>..</c> segments or control characters. A shard downloaded from the internet can name members
/// <c>../../x</c> or <c>/etc/x</c>; copied unchanged into our shards they would escape the folder of whoever
/// extracts them with <c>tar x</c>. Keys with folders (<c>part1/000001</c>) and <c>.</c> segments stay allowed.
/// </summary>
public static class SampleKeys
{
    /// <summary>The skip reason of a sample whose member name is not safe (<see cref="WebDatasetReader"/>).</summary>
    public const string UnsafeKey = "unsafe_key";

    /// <summary>Null when <paramref name="name"/> is safe, else what is wrong with it (for messages).</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0) return "empty name";
        foreach (char c in name)
            if (char.IsControl(c)) return "control character";
        if (name[0] is '/' or '\\' || (name.Length >= 2 && name[1] == ':' && char.IsAsciiLetter(name[0])))
            return "absolute path";
        foreach (var segment in name.Split('/', '\\'))
            if (segment == "..") return "'..' segment";
        return null;
    }

    public static bool IsSafe(string name) => Problem(name) is null;

    /// <summary>
    /// Null when a member's sample key (its name before the first dot of the file name) names a sample, else why not:
    /// a member called <c>.jpg</c> or <c>dir/.jpg</c> has an empty key, which would write a hidden file with no name
    /// into our shards (found by fuzzing: fuzz/regressions/tar/).
    /// </summary>
    public static string? KeyProblem(string key) =>
        key.Length == 0 || key[^1] is '/' or '\\' ? "empty key" : Problem(key);
}
