using OpenQwen2VL.Curation.Expressions;

namespace OpenQwen2VL.Tests.Curation.Expressions;

public sealed class KeepExpressionTests
{
    [Theory]
    [InlineData("mlm_su >= 85 ||", 16, "found the end")]
    [InlineData("mlm_su > > 3", 10, "after '>'")]
    [InlineData("mlm_su & 3", 8, "and is &&")]
    [InlineData("(mlm_su > 3", 12, "to close the '(' at position 1")]
    [InlineData("mlm_su > 3)", 11, "unmatched ')'")]
    [InlineData("mlm_su 3", 8, "after column mlm_su")]
    [InlineData("in dfn", 4, "expected '(' after in")]
    [InlineData("siglip > 0.1.2", 10, "'0.1.2' is not a number")]
    [InlineData("3 > 2", 1, "needs a score column")]
    [InlineData("siglip = 1", 8, "equality is ==")]
    [InlineData("", 1, "empty")]
    [InlineData("siglip > 1 mlm_su > 2", 12, "expected && or ||")]
    public void ASyntaxErrorIsOneLineWithItsPosition(string text, int position, string problem)
    {
        var e = Assert.Throws<KeepExpressionException>(() => KeepExpression.Parse(text));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"keep expression \"{text}\"", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.EndsWith($"at position {position}", e.Message);
    }

    [Fact]
    public void DeepNestingAndLongTextAreRefusedNotOverflowed()
    {
        Assert.Contains("nesting deeper", Assert.Throws<KeepExpressionException>(() => KeepExpression.Parse(new string('!', 10_000)[..4000] + "siglip > 0")).Message);
        Assert.Contains("over the limit", Assert.Throws<KeepExpressionException>(() => KeepExpression.Parse(string.Join(" && ", Enumerable.Repeat("siglip > 0", 1000)))).Message);
    }

    [Fact]
    public void AnUnknownColumnOrListIsNamedWithTheKnownOnes()
    {
        var expression = KeepExpression.Parse("mlm_sux >= 85 || in(dfn)");
        var e = Assert.Throws<KeepExpressionException>(() => expression.RequireKnown(["siglip", "mlm_su"], ["dfn"]));
        Assert.Contains("unknown column mlm_sux (the score files have: mlm_su, siglip)", e.Message);
        e = Assert.Throws<KeepExpressionException>(() => KeepExpression.Parse("in(dfm)").RequireKnown([], ["dfn", "laion"]));
        Assert.Contains("unknown uid list in(dfm) (given with --uids NAME=PATH: dfn, laion)", e.Message);
        expression.RequireKnown(["mlm_sux"], ["dfn"]); // known: no error
    }

    [Fact]
    public void ClausesAreTheTopLevelConjunctsAsWritten()
    {
        Assert.Equal(["siglip > 0.1", "(mlm_itm >= 66 || in(dfn))", "!(mlm_su < 50)"],
            KeepExpression.Parse("siglip > 0.1 && (mlm_itm >= 66 || in(dfn)) && !(mlm_su < 50)").ClauseTexts);
        Assert.Equal(["mlm_su >= 85 || in(dfn)"], KeepExpression.Parse(" mlm_su >= 85 || in(dfn) ").ClauseTexts);
        Assert.Equal(["a > 1", "b > 2"], KeepExpression.Parse("(a > 1 && b > 2)").ClauseTexts); // outer parentheses change nothing
    }

    [Fact]
    public void AMissingScoreFailsEveryComparisonButNotItsNegation()
    {
        float[] scores = [float.NaN];
        bool[] none = [];
        foreach (var op in new[] { ">", ">=", "<", "<=", "==", "!=" })
            Assert.False(KeepExpression.Parse($"siglip {op} 0").Evaluate(new KeepRow(scores, none)));
        Assert.True(KeepExpression.Parse("!(siglip >= 0)").Evaluate(new KeepRow(scores, none)));
    }

    [Fact]
    public void NumbersCompareAsTheSinglePrecisionScoresAreStored()
    {
        // 0.1 in a score file is stored as 0.1f, which is above the double 0.1: compared as floats, it is equal.
        float[] scores = [0.1f];
        Assert.False(KeepExpression.Parse("siglip > 0.1").Evaluate(new KeepRow(scores, [])));
        Assert.True(KeepExpression.Parse("siglip >= 0.1").Evaluate(new KeepRow(scores, [])));
        Assert.True(KeepExpression.Parse("siglip > -1e-3").Evaluate(new KeepRow(scores, [])));
    }
}
