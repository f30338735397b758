using System.Numerics;
using System.Text;

namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// A short one-line rendering of an unpickled value for error messages. Bounded in depth, items and characters, because
/// a crafted pickle can share one tuple 2^60 times (a DAG that a plain recursive ToString expands to exabytes), nest
/// millions deep, contain itself, or hold strings with newlines.
/// </summary>
public static class PickleValueText
{
    private const int MaxDepth = 3;
    private const int MaxItems = 6;
    private const int MaxChars = 200;

    public static string Describe(object? value)
    {
        var sb = new StringBuilder();
        Append(sb, value, 0);
        return Clip(sb.ToString(), MaxChars);
    }

    /// <summary>Text from a file (a global's name, a key) made safe for a one-line message: control characters escaped, length capped.</summary>
    public static string Quote(string s, int maxChars = 100)
    {
        var sb = new StringBuilder(Math.Min(s.Length, maxChars + 8));
        foreach (char c in s.Length > maxChars ? s[..maxChars] : s)
        {
            if (char.IsControl(c)) sb.Append($"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        if (s.Length > maxChars) sb.Append('…');
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, object? value, int depth)
    {
        if (sb.Length > MaxChars) return;
        switch (value)
        {
            case null: sb.Append("None"); break;
            case string s: sb.Append('\'').Append(Quote(s, 40)).Append('\''); break;
            // ToString of a huge BigInteger is superlinear: print its size instead.
            case BigInteger b: sb.Append(b.GetBitLength() <= 128 ? b.ToString() : $"<integer of {b.GetBitLength()} bits>"); break;
            case byte[] bytes: sb.Append($"<{bytes.Length} bytes>"); break;
            case object?[] tuple: Items(sb, "(", ")", tuple, tuple.Length, depth); break;
            case List<object?> list: Items(sb, "[", "]", list, list.Count, depth); break;
            case Dictionary<object, object?> dict: Items(sb, "{", "}", dict.Keys, dict.Count, depth); break;
            case PickleGlobal g: sb.Append(Quote(g.ToString())); break;
            case PickleObject o: sb.Append(Quote(o.Type.ToString())).Append("(…)"); break;
            default: sb.Append(Quote(value.ToString() ?? value.GetType().Name, 60)); break;
        }
    }

    private static void Items(StringBuilder sb, string open, string close, IEnumerable<object?> items, int count, int depth)
    {
        if (depth >= MaxDepth) { sb.Append(open).Append(count == 0 ? "" : "…").Append(close); return; }
        sb.Append(open);
        int i = 0;
        foreach (var item in items)
        {
            if (i > 0) sb.Append(", ");
            if (i == MaxItems || sb.Length > MaxChars) { sb.Append($"… {count} items"); break; }
            Append(sb, item, depth + 1);
            i++;
        }
        sb.Append(close);
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
