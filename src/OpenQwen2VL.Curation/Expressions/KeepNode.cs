namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// The syntax tree of a keep expression. <see cref="Start"/>/<see cref="End"/> delimit the node's text in the
/// expression (for naming clauses as the user wrote them). Evaluation: a comparison with a missing score (NaN) is false
/// whatever the operator, so <c>!(x &gt;= 85)</c> keeps samples without an <c>x</c> while <c>x &lt; 85</c> drops them.
/// </summary>
public abstract record KeepNode(int Start, int End)
{
    public abstract bool Evaluate(KeepRow row);
}

public sealed record OrNode(IReadOnlyList<KeepNode> Operands, int Start, int End) : KeepNode(Start, End)
{
    public override bool Evaluate(KeepRow row)
    {
        foreach (var operand in Operands)
            if (operand.Evaluate(row)) return true;
        return false;
    }
}

public sealed record AndNode(IReadOnlyList<KeepNode> Operands, int Start, int End) : KeepNode(Start, End)
{
    public override bool Evaluate(KeepRow row)
    {
        foreach (var operand in Operands)
            if (!operand.Evaluate(row)) return false;
        return true;
    }
}

public sealed record NotNode(KeepNode Operand, int Start, int End) : KeepNode(Start, End)
{
    public override bool Evaluate(KeepRow row) => !Operand.Evaluate(row);
}

/// <summary><c>in(NAME)</c>: the sample's uid is in the uid list given as <c>--uids NAME=PATH</c>.</summary>
public sealed record InListNode(string Name, int Slot, int Start, int End) : KeepNode(Start, End)
{
    public override bool Evaluate(KeepRow row) => row.InLists[Slot];
}

public enum KeepComparison { Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual }

/// <summary>A number or a score column (by slot), compared in single precision: scores are stored as floats.</summary>
public sealed record KeepOperand(string? Column, int Slot, float Constant)
{
    public float ValueIn(KeepRow row) => Column is null ? Constant : row.Scores[Slot];
}

public sealed record CompareNode(KeepOperand Left, KeepComparison Op, KeepOperand Right, int Start, int End) : KeepNode(Start, End)
{
    public override bool Evaluate(KeepRow row)
    {
        float a = Left.ValueIn(row), b = Right.ValueIn(row);
        if (float.IsNaN(a) || float.IsNaN(b)) return false; // a missing score satisfies no comparison, != included
        return Op switch
        {
            KeepComparison.Greater => a > b,
            KeepComparison.GreaterEqual => a >= b,
            KeepComparison.Less => a < b,
            KeepComparison.LessEqual => a <= b,
            KeepComparison.Equal => a == b,
            _ => a != b,
        };
    }
}
