using System.Globalization;

namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// Splits a keep expression into tokens: numbers (<c>85</c>, <c>0.1</c>, <c>1e-3</c>), names (<c>[A-Za-z_][A-Za-z0-9_]*</c>;
/// <c>in</c> is a keyword), <c>( ) - ! &amp;&amp; || &gt; &gt;= &lt; &lt;= == !=</c>. Anything else is an error at its position.
/// </summary>
public static class KeepTokenizer
{
    /// <summary>Longer expressions are refused: a filter is a handful of clauses, and parsing recurses on nesting.</summary>
    public const int MaxLength = 4096;

    public static List<KeepToken> Tokenize(string text)
    {
        if (text.Length > MaxLength) throw new KeepExpressionException($"keep expression is {text.Length} characters long, over the limit of {MaxLength}");
        var tokens = new List<KeepToken>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            int start = i;
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
                if (i < text.Length && text[i] is 'e' or 'E')
                {
                    int e = i + 1;
                    if (e < text.Length && text[e] is '+' or '-') e++;
                    if (e < text.Length && char.IsAsciiDigit(text[e]))
                    {
                        i = e;
                        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
                    }
                }
                string number = text[start..i];
                if (!double.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double value)
                    || !double.IsFinite(value))
                    throw Error(text, start, $"'{number}' is not a number");
                if (i < text.Length && IsNameChar(text[i])) throw Error(text, i, $"unexpected '{text[i]}' after the number {number}");
                tokens.Add(new KeepToken(KeepTokenKind.Number, number, start, value));
                continue;
            }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < text.Length && IsNameChar(text[i])) i++;
                string name = text[start..i];
                tokens.Add(new KeepToken(name == "in" ? KeepTokenKind.In : KeepTokenKind.Name, name, start));
                continue;
            }
            string two = i + 1 < text.Length ? text.Substring(i, 2) : "";
            KeepTokenKind? pair = two switch
            {
                "&&" => KeepTokenKind.And, "||" => KeepTokenKind.Or, ">=" => KeepTokenKind.GreaterEqual,
                "<=" => KeepTokenKind.LessEqual, "==" => KeepTokenKind.Equal, "!=" => KeepTokenKind.NotEqual,
                _ => null,
            };
            if (pair is { } p)
            {
                tokens.Add(new KeepToken(p, two, start));
                i += 2;
                continue;
            }
            KeepTokenKind? single = c switch
            {
                '(' => KeepTokenKind.LeftParen, ')' => KeepTokenKind.RightParen, '-' => KeepTokenKind.Minus, '!' => KeepTokenKind.Not,
                '>' => KeepTokenKind.Greater, '<' => KeepTokenKind.Less,
                _ => null,
            };
            if (single is not { } s)
            {
                string hint = c switch { '&' => " (and is &&)", '|' => " (or is ||)", '=' => " (equality is ==)", _ => "" };
                throw Error(text, start, $"unexpected {Printable(c)}{hint}");
            }
            tokens.Add(new KeepToken(s, c.ToString(), start));
            i++;
        }
        tokens.Add(new KeepToken(KeepTokenKind.End, "", text.Length));
        return tokens;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";

    /// <summary>"keep expression "TEXT": PROBLEM at position N" (1-based, as an editor counts).</summary>
    internal static KeepExpressionException Error(string text, int position, string problem) =>
        new($"keep expression {Quote(text)}: {problem} at position {position + 1}");

    internal static string Quote(string text) =>
        "\"" + new string(text.Select(ch => char.IsControl(ch) ? ' ' : ch).ToArray()) + "\"";
}
