using System.Globalization;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Shard lists from WebDataset-style specs: brace expansion (<c>data/{00000..00127}.tar</c>, numeric ranges
/// keep the zero padding of their bounds; <c>{a,b,c}</c> lists; several braces expand as a product, left
/// to right) and <c>::</c> to join several specs. Written by hand: .NET has no brace expansion.
/// </summary>
public static class ShardSpec
{
    public static IReadOnlyList<string> Expand(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var result = new List<string>();
        foreach (var part in spec.Split("::", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            ExpandInto(part, result);
        return result;
    }

    /// <summary>The shards of one rank: every <paramref name="worldSize"/>-th shard starting at <paramref name="rank"/>.</summary>
    public static IReadOnlyList<string> ForRank(IReadOnlyList<string> shards, int rank, int worldSize)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), "world size must be >= 1");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank must be in [0, {worldSize})");
        var mine = new List<string>();
        for (int i = rank; i < shards.Count; i += worldSize) mine.Add(shards[i]);
        return mine;
    }

    private static void ExpandInto(string pattern, List<string> output)
    {
        int open = pattern.IndexOf('{');
        if (open < 0)
        {
            if (pattern.Contains('}')) throw new FormatException($"unbalanced '}}' in shard spec '{pattern}'");
            output.Add(pattern);
            return;
        }
        int close = pattern.IndexOf('}', open + 1);
        if (close < 0) throw new FormatException($"unbalanced '{{' in shard spec '{pattern}'");
        string body = pattern[(open + 1)..close];
        if (body.Contains('{')) throw new FormatException($"nested braces are not supported in shard spec '{pattern}'");
        string prefix = pattern[..open], rest = pattern[(close + 1)..];
        foreach (var alternative in Alternatives(body, pattern))
            ExpandInto(prefix + alternative + rest, output);
    }

    private static IEnumerable<string> Alternatives(string body, string pattern)
    {
        int dots = body.IndexOf("..", StringComparison.Ordinal);
        if (dots >= 0 && !body.Contains(','))
        {
            string lo = body[..dots], hi = body[(dots + 2)..];
            if (!long.TryParse(lo, NumberStyles.None, CultureInfo.InvariantCulture, out long a) ||
                !long.TryParse(hi, NumberStyles.None, CultureInfo.InvariantCulture, out long b))
                throw new FormatException($"range '{{{body}}}' in shard spec '{pattern}' must be two non-negative integers");
            // Zero padding as in bash: a bound written with a leading zero fixes the width.
            int width = (lo.Length > 1 && lo[0] == '0') || (hi.Length > 1 && hi[0] == '0') ? Math.Max(lo.Length, hi.Length) : 0;
            long step = a <= b ? 1 : -1;
            var fmt = "D" + width.ToString(CultureInfo.InvariantCulture);
            for (long i = a; ; i += step)
            {
                yield return i.ToString(fmt, CultureInfo.InvariantCulture);
                if (i == b) break;
            }
            yield break;
        }
        if (!body.Contains(','))
            throw new FormatException($"braces '{{{body}}}' in shard spec '{pattern}' need a range a..b or a list a,b");
        foreach (var item in body.Split(',')) yield return item;
    }
}
