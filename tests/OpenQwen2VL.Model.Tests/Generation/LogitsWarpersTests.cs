using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Tests.Model;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Generation;

/// <summary>The sampling warpers against naive loops written from HF's definitions.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class LogitsWarpersTests
{
    private static readonly float[,] Scores =
    {
        { 2.0f, -1.0f, 0.5f, -3.0f, 0.0f, 1.5f },
        { -0.5f, 4.0f, -2.0f, 1.0f, 3.0f, -1.5f },
    };

    private static Tensor AsTensor(float[,] s) => tensor(s);

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOfSeenTokens()
    {
        using var scope = NewDisposeScope();
        var seen = new bool[,] { { true, true, false, false, true, false }, { false, true, true, false, false, false } };
        const double penalty = 1.7;
        var naive = (float[,])Scores.Clone();
        for (int r = 0; r < 2; r++)
            for (int v = 0; v < 6; v++)
                if (seen[r, v]) naive[r, v] = naive[r, v] > 0 ? (float)(naive[r, v] / penalty) : (float)(naive[r, v] * penalty);
        var actual = LogitsWarpers.RepetitionPenalty(AsTensor(Scores), tensor(seen), penalty);
        TensorAssert.Close(AsTensor(naive), actual, 1e-6, "penalised scores");
    }

    [Fact]
    public void TopKKeepsTheKLargestOfEachRow()
    {
        using var scope = NewDisposeScope();
        var actual = LogitsWarpers.TopK(AsTensor(Scores), 2).data<float>().ToArray();
        for (int r = 0; r < 2; r++)
        {
            var row = Enumerable.Range(0, 6).Select(v => Scores[r, v]).ToArray();
            float second = row.OrderDescending().ElementAt(1);
            for (int v = 0; v < 6; v++)
                Assert.Equal(row[v] >= second ? row[v] : float.NegativeInfinity, actual[r * 6 + v]);
        }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.8)]
    [InlineData(0.999)]
    public void TopPKeepsTheSmallestSetOfLikelyTokensReachingP(double p)
    {
        using var scope = NewDisposeScope();
        var actual = LogitsWarpers.TopP(AsTensor(Scores), p).data<float>().ToArray();
        for (int r = 0; r < 2; r++)
        {
            var row = Enumerable.Range(0, 6).Select(v => (double)Scores[r, v]).ToArray();
            double z = row.Sum(Math.Exp);
            // Most likely first: keep tokens until the kept mass reaches p (the token that crosses p stays).
            var kept = new HashSet<int>();
            double mass = 0;
            foreach (int v in Enumerable.Range(0, 6).OrderByDescending(v => row[v]))
            {
                kept.Add(v);
                mass += Math.Exp(row[v]) / z;
                if (mass >= p) break;
            }
            for (int v = 0; v < 6; v++)
                Assert.Equal(kept.Contains(v) ? Scores[r, v] : float.NegativeInfinity, actual[r * 6 + v]);
        }
    }

    [Fact]
    public void TemperatureDividesScores()
    {
        using var scope = NewDisposeScope();
        TensorAssert.Close(AsTensor(Scores).div(tensor(0.5f)), LogitsWarpers.Temperature(AsTensor(Scores), 0.5), 1e-7, "tempered");
    }
}
