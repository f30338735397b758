namespace OpenQwen2VL.Curation.Expressions;

/// <summary>
/// A parsed <c>--keep</c> expression, e.g. <c>mlm_su &gt;= 85 || in(dfn)</c> or <c>siglip &gt; 0.1 &amp;&amp; mlm_itm &gt;= 66</c>:
/// comparisons of score columns with numbers (or columns), <c>in(NAME)</c> for uid lists, <c>! &amp;&amp; ||</c> and parentheses.
/// Numbers are compared in single precision, as the scores are stored (<c>0.1</c> means <c>0.1f</c>).
/// <para>
/// Clauses: the operands of a top-level <c>&amp;&amp;</c> chain (<c>a &amp;&amp; (b || c) &amp;&amp; !d</c> has three), or the whole
/// expression when its top is not <c>&amp;&amp;</c> (an <c>||</c> is one clause: a sample it drops failed every alternative).
/// A sample is kept iff every clause holds; a dropped sample is counted under each clause it failed
/// (<see cref="FailedClauses"/>; the counts may sum to more than the dropped samples) and under the first one.
/// </para>
/// </summary>
public sealed class KeepExpression
{
    public string Text { get; }
    public KeepNode Root { get; }
    /// <summary>The score columns the expression names, by slot (the order of <see cref="KeepRow.Scores"/>).</summary>
    public IReadOnlyList<string> Columns { get; }
    /// <summary>The uid lists the expression names (<c>in(NAME)</c>), by slot (the order of <see cref="KeepRow.InLists"/>).</summary>
    public IReadOnlyList<string> UidLists { get; }
    public IReadOnlyList<KeepNode> Clauses { get; }
    /// <summary>Each clause as the user wrote it.</summary>
    public IReadOnlyList<string> ClauseTexts { get; }

    private KeepExpression(string text, KeepNode root, IReadOnlyList<string> columns, IReadOnlyList<string> uidLists)
    {
        Text = text;
        Root = root;
        Columns = columns;
        UidLists = uidLists;
        Clauses = root is AndNode and ? and.Operands : [root];
        ClauseTexts = [.. Clauses.Select(c => text[c.Start..c.End].Trim())];
    }

    /// <summary>Parses <paramref name="text"/>; a syntax error is a one-line <see cref="KeepExpressionException"/> with its position.</summary>
    public static KeepExpression Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new KeepParser(text);
        var root = parser.ParseAll();
        return new KeepExpression(text, root, parser.Columns, parser.UidLists);
    }

    /// <summary>
    /// Checks that every column the expression names is one of <paramref name="knownColumns"/> and every uid list one of
    /// <paramref name="knownUidLists"/>; else one line naming the unknown one and listing the known ones.
    /// </summary>
    public void RequireKnown(IReadOnlyCollection<string> knownColumns, IReadOnlyCollection<string> knownUidLists)
    {
        foreach (var column in Columns)
            if (!knownColumns.Contains(column))
                throw new KeepExpressionException($"keep expression {KeepTokenizer.Quote(Text)}: unknown column {column} (the score files have: {List(knownColumns)})");
        foreach (var list in UidLists)
            if (!knownUidLists.Contains(list))
                throw new KeepExpressionException($"keep expression {KeepTokenizer.Quote(Text)}: unknown uid list in({list}) (given with --uids NAME=PATH: {List(knownUidLists)})");
    }

    public bool Evaluate(KeepRow row) => Root.Evaluate(row);

    /// <summary>Marks in <paramref name="failed"/> (one flag per clause) the clauses the row fails; true when it passes all.</summary>
    public bool FailedClauses(KeepRow row, Span<bool> failed)
    {
        bool all = true;
        for (int i = 0; i < Clauses.Count; i++)
        {
            failed[i] = !Clauses[i].Evaluate(row);
            all &= !failed[i];
        }
        return all;
    }

    private static string List(IReadOnlyCollection<string> names) =>
        names.Count == 0 ? "none" : string.Join(", ", names.Order(StringComparer.Ordinal));
}
