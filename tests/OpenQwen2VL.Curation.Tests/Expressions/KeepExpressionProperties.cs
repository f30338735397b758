using System.Globalization;
using CsCheck;
using OpenQwen2VL.Curation.Expressions;

namespace OpenQwen2VL.Tests.Curation.Expressions;

/// <summary>
/// Random keep expressions, written as text with the fewest parentheses precedence needs (plus some redundant ones),
/// against a direct C# lambda built alongside: same verdict on random rows, missing scores included.
/// </summary>
public sealed class KeepExpressionProperties
{
    private static readonly string[] ColumnNames = ["siglip", "mlm_itm", "mlm_su"];
    private static readonly string[] ListNames = ["dfn", "laion"];
    // Few distinct values, so equal scores and thresholds are common; NaN is a missing score.
    private static readonly float[] Values = [float.NaN, -1f, 0f, 0.1f, 0.5f, 66f, 85f, 85.5f, 100f];

    private sealed record Row(float[] Scores, bool[] In);

    /// <summary>An expression's text, its precedence (0 or, 1 and, 2 unary/atom) and its meaning.</summary>
    private sealed record Sketch(string Text, int Precedence, Func<Row, bool> Holds);

    private static Sketch Make(Random rng, int depth)
    {
        int kind = depth <= 0 ? rng.Next(2) : rng.Next(5);
        Sketch sketch = kind switch
        {
            0 => Comparison(rng),
            1 => InList(rng),
            2 => Not(Make(rng, depth - 1)),
            3 => Chain(rng, depth, "&&", 1, all: true),
            _ => Chain(rng, depth, "||", 0, all: false),
        };
        return rng.Next(8) == 0 ? sketch with { Text = "(" + sketch.Text + ")", Precedence = 2 } : sketch;
    }

    private static Sketch Comparison(Random rng)
    {
        string[] ops = [">", ">=", "<", "<=", "==", "!="];
        Func<float, float, bool>[] tests = [(a, b) => a > b, (a, b) => a >= b, (a, b) => a < b, (a, b) => a <= b, (a, b) => a == b, (a, b) => a != b];
        int op = rng.Next(ops.Length);
        var (leftText, left) = Operand(rng, column: true);
        var (rightText, right) = Operand(rng, column: rng.Next(4) == 0);
        if (rng.Next(2) == 0) (leftText, left, rightText, right) = (rightText, right, leftText, left);
        string space = rng.Next(2) == 0 ? " " : "";
        var test = tests[op];
        return new Sketch($"{leftText}{space}{ops[op]}{space}{rightText}", 2, row =>
        {
            float a = left(row), b = right(row);
            return !float.IsNaN(a) && !float.IsNaN(b) && test(a, b); // a missing score fails every comparison
        });
    }

    private static (string, Func<Row, float>) Operand(Random rng, bool column)
    {
        if (column)
        {
            int c = rng.Next(ColumnNames.Length);
            return (ColumnNames[c], row => row.Scores[c]);
        }
        float v = Values[1 + rng.Next(Values.Length - 1)];
        return (v.ToString("R", CultureInfo.InvariantCulture), _ => v);
    }

    private static Sketch InList(Random rng)
    {
        int l = rng.Next(ListNames.Length);
        return new Sketch($"in({ListNames[l]})", 2, row => row.In[l]);
    }

    private static Sketch Not(Sketch inner) =>
        new("!" + Wrap(inner, 2), 2, row => !inner.Holds(row));

    private static Sketch Chain(Random rng, int depth, string op, int precedence, bool all)
    {
        var parts = Enumerable.Range(0, rng.Next(2, 4)).Select(_ => Make(rng, depth - 1)).ToArray();
        string text = string.Join($" {op} ", parts.Select(p => Wrap(p, precedence)));
        return new Sketch(text, precedence, all ? row => parts.All(p => p.Holds(row)) : row => parts.Any(p => p.Holds(row)));
    }

    private static string Wrap(Sketch s, int needed) => s.Precedence < needed ? "(" + s.Text + ")" : s.Text;

    [Fact]
    public void TheParsedExpressionAgreesWithTheDirectLambdaOnEveryRow()
    {
        Gen.Select(Gen.Int, Gen.Int[0, Values.Length - 1].Array[ColumnNames.Length * 16], Gen.Bool.Array[ListNames.Length * 16])
            .Sample((seed, valueIndices, flags) =>
            {
                var sketch = Make(new Random(seed), depth: 4);
                var expression = KeepExpression.Parse(sketch.Text);
                Span<float> scores = stackalloc float[expression.Columns.Count];
                Span<bool> inLists = stackalloc bool[expression.UidLists.Count];
                Span<bool> failed = stackalloc bool[expression.Clauses.Count];
                for (int r = 0; r < 16; r++)
                {
                    var row = new Row(
                        [.. Enumerable.Range(0, ColumnNames.Length).Select(c => Values[valueIndices[r * ColumnNames.Length + c]])],
                        [.. Enumerable.Range(0, ListNames.Length).Select(l => flags[r * ListNames.Length + l])]);
                    for (int c = 0; c < scores.Length; c++) scores[c] = row.Scores[Array.IndexOf(ColumnNames, expression.Columns[c])];
                    for (int l = 0; l < inLists.Length; l++) inLists[l] = row.In[Array.IndexOf(ListNames, expression.UidLists[l])];
                    bool expected = sketch.Holds(row);
                    var keepRow = new KeepRow(scores, inLists);
                    Assert.True(expected == expression.Evaluate(keepRow), $"{sketch.Text} on [{string.Join(", ", row.Scores)}] in [{string.Join(", ", row.In)}]: expected {expected}");
                    // Kept iff no clause fails.
                    Assert.Equal(expected, expression.FailedClauses(keepRow, failed));
                    Assert.Equal(expected, !failed.Contains(true));
                }
            }, iter: 400);
    }
}

/// <summary>curate's cut goes through filter: its keep expression keeps exactly the float scores at or above the double threshold.</summary>
public sealed class CurateKeepExpressionProperties
{
    [Fact]
    public void TheCurateExpressionCutsWhereTheThresholdDoes()
    {
        Gen.Select(Gen.Double[-1, 1], Gen.Int[-3, 3]).Sample((threshold, ulps) =>
        {
            var expression = KeepExpression.Parse(OpenQwen2VL.Curation.Filtering.CurationPipeline.KeepExpressionFor("tiny_siglip", threshold));
            Assert.Equal(["tiny_siglip_score"], expression.Columns);
            // Scores a few floats either side of the threshold.
            float x = (float)threshold;
            for (int i = 0; i < Math.Abs(ulps); i++) x = ulps > 0 ? MathF.BitIncrement(x) : MathF.BitDecrement(x);
            Assert.Equal(x >= threshold, expression.Evaluate(new KeepRow([x], [])));
        }, iter: 2000);
    }
}
