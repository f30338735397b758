using OpenQwen2VL.Curation.Filtering;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation;

[Collection(TorchGlobalState.Name)]
public class FilterMathTests
{
    [Fact]
    public void SigmoidLossMatchesAnElementwiseLoop()
    {
        manual_seed(3);
        using var x = randn(5, 4);
        using var y = randn(5, 4);
        using var t = tensor(1.3f);
        using var b = tensor(-2.5f);
        using var loss = SigmoidPairwiseLoss.Compute(x, y, t, b);
        var xs = Rows(x);
        var ys = Rows(y);
        double expected = 0;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
            {
                double cos = Dot(xs[i], ys[j]) / Math.Sqrt(Dot(xs[i], xs[i]) * Dot(ys[j], ys[j]));
                double logit = Math.Exp(1.3) * cos - 2.5;
                double z = i == j ? 1 : -1;
                expected += Math.Log(1 + Math.Exp(-z * logit)); // -log sigmoid(z * logit)
            }
        Assert.Equal(expected / 5, loss.item<float>(), 4);
    }

    private static float[][] Rows(Tensor t) => Enumerable.Range(0, (int)t.shape[0]).Select(i => t[i].data<float>().ToArray()).ToArray();

    private static double Dot(float[] a, float[] b) => a.Zip(b, (p, q) => (double)p * q).Sum();

    [Fact]
    public void OtsuCutsBetweenTwoModes()
    {
        var rng = new Random(1);
        var scores = Enumerable.Range(0, 300).Select(_ => (float)(0.1 + 0.05 * rng.NextDouble()))
            .Concat(Enumerable.Range(0, 700).Select(_ => (float)(0.7 + 0.05 * rng.NextDouble()))).ToArray();
        var t = ScoreThreshold.Otsu(scores);
        Assert.InRange(t.Value, 0.15, 0.7);
        Assert.Equal(700, scores.Count(s => s >= t.Value));
    }

    [Fact]
    public void KeepFractionKeepsThatShare()
    {
        var scores = Enumerable.Range(0, 200).Select(i => (float)Math.Sin(i)).ToArray(); // distinct values
        var t = ScoreThreshold.KeepFraction(scores, 0.35);
        Assert.Equal(70, scores.Count(s => s >= t.Value));
        Assert.Throws<ArgumentOutOfRangeException>(() => ScoreThreshold.KeepFraction(scores, 0));
    }

    [Fact]
    public void PrecisionAndRecallOfNoiseRemoval()
    {
        bool[] noise = [true, true, true, false, false, false, false, false];
        bool[] removed = [true, true, false, true, false, false, false, false];
        var m = NoiseRemovalMetrics.Compute(removed, noise);
        Assert.Equal(2.0 / 3, m.Precision, 12); // 2 of the 3 removed were noise
        Assert.Equal(2.0 / 3, m.Recall, 12);    // 2 of the 3 noisy were removed
        var none = NoiseRemovalMetrics.Compute([false, false], [true, false]);
        Assert.Equal(0, none.Recall);
    }

    [Fact]
    public void CaptionFeaturesAreStableAndInRange()
    {
        var f = new CaptionFeaturizer(64, bigrams: true);
        var a = f.Featurize("Three red circles on the left");
        Assert.Equal(a, f.Featurize("three RED circles, on the left!"));
        Assert.Equal(2 * 6 - 1, a.Length); // 6 words, 5 bigrams
        Assert.Equal(6, new CaptionFeaturizer(64).Featurize("Three red circles on the left").Length);
        Assert.All(a, id => Assert.InRange(id, 1, 63));
        Assert.NotEqual(a, f.Featurize("Three blue circles on the left"));
        var (ids, len) = CaptionFeaturizer.Pad([[1, 2, 3], [4]]);
        Assert.Equal(3, len);
        Assert.Equal(new long[] { 1, 2, 3, 4, 0, 0 }, ids);
    }
}
