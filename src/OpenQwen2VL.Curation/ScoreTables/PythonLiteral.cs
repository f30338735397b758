using System.Globalization;
using System.Text;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// Parses the Python literal of a .npy header (<c>{'descr': '&lt;u8', 'fortran_order': False, 'shape': (3, 2), }</c>):
/// dicts with text keys, tuples and lists (as <see cref="List{T}"/>), quoted text, integers (long), True/False/None.
/// Nothing is evaluated; anything else, or nesting deeper than 8, is a <see cref="FormatException"/>.
/// </summary>
public sealed class PythonLiteral
{
    private const int MaxDepth = 8;
    private readonly string _text;
    private int _at;

    private PythonLiteral(string text) => _text = text;

    public static object? Parse(string text)
    {
        var parser = new PythonLiteral(text);
        var value = parser.Value(0);
        parser.SkipSpace();
        if (parser._at != text.Length) throw parser.Error("text after the literal");
        return value;
    }

    private object? Value(int depth)
    {
        if (depth > MaxDepth) throw Error("nested too deep");
        SkipSpace();
        if (_at >= _text.Length) throw Error("unexpected end");
        char c = _text[_at];
        switch (c)
        {
            case '{': return Dict(depth);
            case '(': return Sequence(')', depth);
            case '[': return Sequence(']', depth);
            case '\'' or '"': return Text();
        }
        if (c == '-' || char.IsAsciiDigit(c))
        {
            int start = _at++;
            while (_at < _text.Length && char.IsAsciiDigit(_text[_at])) _at++;
            if (_at < _text.Length && _text[_at] == 'L') _at++; // Python 2 wrote long shapes as 3L
            string digits = _text[start.._at].TrimEnd('L');
            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) throw Error($"bad integer {digits}");
            return n;
        }
        foreach (var (word, value) in new (string, object?)[] { ("True", true), ("False", false), ("None", null) })
            if (string.CompareOrdinal(_text, _at, word, 0, word.Length) == 0)
            {
                _at += word.Length;
                return value;
            }
        throw Error($"unexpected '{c}'");
    }

    private Dictionary<string, object?> Dict(int depth)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        _at++;
        while (true)
        {
            SkipSpace();
            if (Eat('}')) return dict;
            if (Value(depth + 1) is not string key) throw Error("a dict key is not text");
            SkipSpace();
            if (!Eat(':')) throw Error("expected ':'");
            if (!dict.TryAdd(key, Value(depth + 1))) throw Error($"key '{key}' repeated");
            SkipSpace();
            if (Eat('}')) return dict;
            if (!Eat(',')) throw Error("expected ',' or '}'");
        }
    }

    private List<object?> Sequence(char close, int depth)
    {
        var items = new List<object?>();
        _at++;
        while (true)
        {
            SkipSpace();
            if (Eat(close)) return items;
            items.Add(Value(depth + 1));
            SkipSpace();
            if (Eat(close)) return items;
            if (!Eat(',')) throw Error($"expected ',' or '{close}'");
        }
    }

    private string Text()
    {
        char quote = _text[_at++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_at >= _text.Length) throw Error("unterminated text");
            char c = _text[_at++];
            if (c == quote) return sb.ToString();
            if (c == '\\') throw Error("escapes in text are not expected in a .npy header");
            sb.Append(c);
        }
    }

    private bool Eat(char c)
    {
        if (_at < _text.Length && _text[_at] == c) { _at++; return true; }
        return false;
    }

    private void SkipSpace()
    {
        while (_at < _text.Length && _text[_at] is ' ' or '\t' or '\n' or '\r') _at++;
    }

    private FormatException Error(string problem) => new($"{problem} at character {_at + 1}");
}
