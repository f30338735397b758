namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// What a keep expression sees of one sample: its score in each column the expression names (by slot, see
/// <see cref="KeepExpression.Columns"/>; NaN when the sample has no such score) and whether its uid is in each uid list
/// the expression names (by slot, see <see cref="KeepExpression.UidLists"/>).
/// </summary>
public readonly ref struct KeepRow(ReadOnlySpan<float> scores, ReadOnlySpan<bool> inLists)
{
    public ReadOnlySpan<float> Scores { get; } = scores;
    public ReadOnlySpan<bool> InLists { get; } = inLists;
}
