namespace OpenQwen2VL.Curation.Expressions;

public enum KeepTokenKind
{
    Number, Name, In, LeftParen, RightParen, Minus, Not, And, Or,
    Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual, End,
}

/// <summary>One token of a keep expression; <see cref="Position"/> is its 0-based character offset.</summary>
public readonly record struct KeepToken(KeepTokenKind Kind, string Text, int Position, double Number = 0)
{
    public bool IsComparison => Kind is KeepTokenKind.Greater or KeepTokenKind.GreaterEqual or KeepTokenKind.Less
        or KeepTokenKind.LessEqual or KeepTokenKind.Equal or KeepTokenKind.NotEqual;

    /// <summary>How an error message names the token: <c>'&amp;&amp;'</c>, or "the end".</summary>
    public string Describe() => Kind == KeepTokenKind.End ? "the end" : $"'{Text}'";
}
