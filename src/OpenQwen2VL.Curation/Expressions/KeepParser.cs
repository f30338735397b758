namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// Recursive-descent parser of keep expressions, loosest binding first:
/// <code>
/// or      := and ('||' and)*
/// and     := unary ('&amp;&amp;' unary)*
/// unary   := '!' unary | '(' or ')' | 'in' '(' NAME ')' | operand COMPARISON operand
/// operand := NUMBER | '-' NUMBER | NAME
/// </code>
/// Column names and uid-list names get slots in order of first use (<see cref="Columns"/>, <see cref="UidLists"/>).
/// </summary>
internal sealed class KeepParser
{
    /// <summary>Nesting deeper than this is refused (the parser recurses once per level).</summary>
    public const int MaxDepth = 64;

    private readonly string _text;
    private readonly List<KeepToken> _tokens;
    private int _next;
    private int _depth;

    public List<string> Columns { get; } = [];
    public List<string> UidLists { get; } = [];

    public KeepParser(string text)
    {
        _text = text;
        _tokens = KeepTokenizer.Tokenize(text);
    }

    public KeepNode ParseAll()
    {
        if (Peek.Kind == KeepTokenKind.End) throw KeepTokenizer.Error(_text, 0, "the expression is empty");
        var node = ParseOr();
        if (Peek.Kind != KeepTokenKind.End)
            throw Error(Peek, Peek.Kind == KeepTokenKind.RightParen ? "unmatched ')'" : $"expected && or || before {Peek.Describe()}");
        return node;
    }

    private KeepToken Peek => _tokens[_next];

    private KeepToken Take() => _tokens[_next++];

    private KeepNode ParseOr()
    {
        var first = ParseAnd();
        if (Peek.Kind != KeepTokenKind.Or) return first;
        var operands = new List<KeepNode> { first };
        while (Peek.Kind == KeepTokenKind.Or)
        {
            Take();
            operands.Add(ParseAnd());
        }
        return new OrNode(operands, first.Start, operands[^1].End);
    }

    private KeepNode ParseAnd()
    {
        var first = ParseUnary();
        if (Peek.Kind != KeepTokenKind.And) return first;
        var operands = new List<KeepNode> { first };
        while (Peek.Kind == KeepTokenKind.And)
        {
            Take();
            operands.Add(ParseUnary());
        }
        return new AndNode(operands, first.Start, operands[^1].End);
    }

    private KeepNode ParseUnary()
    {
        if (++_depth > MaxDepth) throw Error(Peek, $"nesting deeper than {MaxDepth} levels");
        try
        {
            var token = Peek;
            switch (token.Kind)
            {
                case KeepTokenKind.Not:
                    Take();
                    var operand = ParseUnary();
                    return new NotNode(operand, token.Position, operand.End);
                case KeepTokenKind.LeftParen:
                    Take();
                    var inner = ParseOr();
                    var close = Expect(KeepTokenKind.RightParen, $"expected ')' to close the '(' at position {token.Position + 1}");
                    // The span takes the parentheses, so a clause reads as written.
                    return inner with { Start = token.Position, End = close.Position + 1 };
                case KeepTokenKind.In:
                    Take();
                    Expect(KeepTokenKind.LeftParen, "expected '(' after in, as in in(dfn)");
                    var name = Expect(KeepTokenKind.Name, "expected a uid list name inside in(...)");
                    var end = Expect(KeepTokenKind.RightParen, $"expected ')' after in({name.Text}");
                    return new InListNode(name.Text, SlotOf(UidLists, name.Text), token.Position, end.Position + 1);
                default:
                    return ParseComparison();
            }
        }
        finally { _depth--; }
    }

    private KeepNode ParseComparison()
    {
        var left = ParseOperand(null, out int start, out _);
        var op = Peek;
        if (!op.IsComparison)
        {
            string what = left.Column is { } c ? $"column {c}" : $"the number {_text[start..op.Position].Trim()}";
            throw Error(op, $"expected a comparison (> >= < <= == !=) after {what}, found {op.Describe()}");
        }
        Take();
        var right = ParseOperand(op, out _, out int end);
        if (left.Column is null && right.Column is null) throw KeepTokenizer.Error(_text, start, "a comparison needs a score column on one side");
        var comparison = op.Kind switch
        {
            KeepTokenKind.Greater => KeepComparison.Greater,
            KeepTokenKind.GreaterEqual => KeepComparison.GreaterEqual,
            KeepTokenKind.Less => KeepComparison.Less,
            KeepTokenKind.LessEqual => KeepComparison.LessEqual,
            KeepTokenKind.Equal => KeepComparison.Equal,
            _ => KeepComparison.NotEqual,
        };
        return new CompareNode(left, comparison, right, start, end);
    }

    private KeepOperand ParseOperand(KeepToken? after, out int start, out int end)
    {
        var token = Take();
        start = token.Position;
        switch (token.Kind)
        {
            case KeepTokenKind.Name:
                end = token.Position + token.Text.Length;
                return new KeepOperand(token.Text, SlotOf(Columns, token.Text), float.NaN);
            case KeepTokenKind.Number:
                end = token.Position + token.Text.Length;
                return new KeepOperand(null, -1, (float)token.Number);
            case KeepTokenKind.Minus when Peek.Kind == KeepTokenKind.Number:
                var number = Take();
                end = number.Position + number.Text.Length;
                return new KeepOperand(null, -1, -(float)number.Number);
            default:
                _next--;
                throw Error(token, after is { } op
                    ? $"expected a number or a column after {op.Describe()}, found {token.Describe()}"
                    : $"expected a comparison like siglip > 0.1, or in(NAME), found {token.Describe()}");
        }
    }

    private KeepToken Expect(KeepTokenKind kind, string problem)
    {
        if (Peek.Kind != kind) throw Error(Peek, $"{problem}, found {Peek.Describe()}");
        return Take();
    }

    private static int SlotOf(List<string> names, string name)
    {
        int slot = names.IndexOf(name);
        if (slot >= 0) return slot;
        names.Add(name);
        return names.Count - 1;
    }

    private KeepExpressionException Error(KeepToken at, string problem) => KeepTokenizer.Error(_text, at.Position, problem);
}
