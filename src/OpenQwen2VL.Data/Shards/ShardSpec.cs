using System.Globalization;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Shard lists from WebDataset-style specs: brace expansion (<c>data/{00000..00127}.tar</c>, numeric ranges
/// keep the zero padding of their bounds; <c>{a,b,c}</c> lists; several braces expand as a product, left
/// to right) and <c>::</c> to join several specs. Written by hand: .NET has no brace expansion.
/// <para>
/// A spec is parsed and its shard count computed arithmetically before any name is made, so a typo such as
/// <c>{0..99999999999}</c> is one <see cref="FormatException"/> naming the spec and the cap, not gigabytes of
/// strings. Ranges must run upwards, and zero-padded bounds must have the same width (<c>{000..1000}</c> is
/// ambiguous: the width of the names would change inside the range).
/// </para>
/// </summary>
public static class ShardSpec
{
    /// <summary>Most shards one spec may name (1,000,000: 10x the largest public WebDataset corpora's shard counts).</summary>
    public const int DefaultMaxShards = 1_000_000;

    /// <summary>The shards of <paramref name="spec"/>, in order; refused (FormatException) past <paramref name="maxShards"/>.</summary>
    public static IReadOnlyList<string> Expand(string spec, int maxShards = DefaultMaxShards)
    {
        var patterns = Parse(spec, maxShards, out long count);
        var result = new List<string>((int)count);
        foreach (var p in patterns) result.AddRange(p.Names());
        return result;
    }

    /// <summary>
    /// The shards of <paramref name="spec"/>, made one at a time as they are enumerated. The spec is checked (and its
    /// count capped) when this is called, before the first name is made.
    /// </summary>
    public static IEnumerable<string> Enumerate(string spec, int maxShards = DefaultMaxShards) =>
        Parse(spec, maxShards, out _).SelectMany(p => p.Names());

    /// <summary>How many shards <paramref name="spec"/> names, without making their names.</summary>
    public static long Count(string spec, int maxShards = DefaultMaxShards)
    {
        Parse(spec, maxShards, out long count);
        return count;
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

    private static List<Pattern> Parse(string spec, int maxShards, out long count)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (maxShards < 1) throw new ArgumentOutOfRangeException(nameof(maxShards));
        var patterns = new List<Pattern>();
        count = 0;
        foreach (var part in spec.Split("::", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var p = Pattern.Parse(part);
            count += p.Count(maxShards);
            if (count > maxShards) throw TooMany(spec, maxShards);
            patterns.Add(p);
        }
        if (patterns.Count == 0) throw new FormatException($"shard spec '{spec}' names no shard");
        return patterns;
    }

    private static FormatException TooMany(string spec, int maxShards) =>
        new($"shard spec '{spec}' names more than {maxShards:N0} shards (the cap): check its ranges");

    /// <summary>One <c>::</c>-separated part: literal text and brace groups, expanded as a product.</summary>
    private sealed class Pattern
    {
        private readonly List<Segment> _segments = [];

        public static Pattern Parse(string pattern)
        {
            var p = new Pattern();
            int at = 0;
            while (at < pattern.Length)
            {
                int open = pattern.IndexOf('{', at);
                int strayClose = pattern.IndexOf('}', at);
                if (strayClose >= 0 && (open < 0 || strayClose < open)) throw new FormatException($"unbalanced '}}' in shard spec '{pattern}'");
                if (open < 0)
                {
                    p._segments.Add(Segment.Literal(pattern[at..]));
                    break;
                }
                if (open > at) p._segments.Add(Segment.Literal(pattern[at..open]));
                int close = pattern.IndexOf('}', open + 1);
                if (close < 0) throw new FormatException($"unbalanced '{{' in shard spec '{pattern}'");
                string body = pattern[(open + 1)..close];
                if (body.Contains('{')) throw new FormatException($"nested braces are not supported in shard spec '{pattern}'");
                p._segments.Add(Segment.Braces(body, pattern));
                at = close + 1;
            }
            return p;
        }

        /// <summary>The product of the groups' sizes, or more than <paramref name="cap"/> once it passes it (no overflow).</summary>
        public long Count(int cap)
        {
            long n = 1;
            foreach (var s in _segments)
            {
                if (s.Count > cap) return (long)cap + 1;
                n *= s.Count; // both factors are at most cap here: no overflow
                if (n > cap) return (long)cap + 1;
            }
            return n;
        }

        /// <summary>The names, leftmost group varying slowest (bash order).</summary>
        public IEnumerable<string> Names()
        {
            var index = new long[_segments.Count];
            var name = new System.Text.StringBuilder();
            while (true)
            {
                name.Clear();
                for (int i = 0; i < _segments.Count; i++) name.Append(_segments[i].At(index[i]));
                yield return name.ToString();
                int k = _segments.Count - 1;
                while (k >= 0 && ++index[k] == _segments[k].Count) index[k--] = 0;
                if (k < 0) yield break;
            }
        }
    }

    /// <summary>Literal text (one alternative), a list <c>{a,b}</c>, or a numeric range <c>{lo..hi}</c>.</summary>
    private sealed class Segment
    {
        private string[]? _items;
        private long _lo;
        private string _format = "D0";
        public long Count { get; private init; }

        public static Segment Literal(string text) => new() { _items = [text], Count = 1 };

        public static Segment Braces(string body, string pattern)
        {
            int dots = body.IndexOf("..", StringComparison.Ordinal);
            if (dots >= 0 && !body.Contains(','))
                return Range(body[..dots], body[(dots + 2)..], body, pattern);
            if (!body.Contains(','))
                throw new FormatException($"braces '{{{body}}}' in shard spec '{pattern}' need a range a..b or a list a,b");
            var items = body.Split(',');
            return new Segment { _items = items, Count = items.Length };
        }

        private static Segment Range(string lo, string hi, string body, string pattern)
        {
            if (!long.TryParse(lo, NumberStyles.None, CultureInfo.InvariantCulture, out long a) ||
                !long.TryParse(hi, NumberStyles.None, CultureInfo.InvariantCulture, out long b))
                throw new FormatException($"range '{{{body}}}' in shard spec '{pattern}' must be two non-negative integers");
            if (a > b) throw new FormatException($"range '{{{body}}}' in shard spec '{pattern}' runs backwards: write {{{hi}..{lo}}}");
            // Zero padding as in bash: a bound written with a leading zero fixes the width; both bounds must then
            // agree on it, or the names would change width inside the range.
            bool padded = (lo.Length > 1 && lo[0] == '0') || (hi.Length > 1 && hi[0] == '0');
            if (padded && lo.Length != hi.Length)
                throw new FormatException($"range '{{{body}}}' in shard spec '{pattern}' has zero-padded bounds of different widths ({lo.Length} and {hi.Length} digits): write both with the same number of digits");
            int width = padded ? lo.Length : 0;
            return new Segment { _lo = a, _format = "D" + width.ToString(CultureInfo.InvariantCulture), Count = b - a == long.MaxValue ? long.MaxValue : b - a + 1 };
        }

        public string At(long i) => _items is { } items ? items[i] : (_lo + i).ToString(_format, CultureInfo.InvariantCulture);
    }
}
