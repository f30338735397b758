using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class OptimizerTests
{
    /// <summary>
    /// AdamW as PyTorch's torch.optim.AdamW computes it (decoupled decay, then p -= lr / (1 - b1^t) · m / (sqrt(v) /
    /// sqrt(1 - b2^t) + eps)), written out in float64 on plain arrays: an oracle that shares no code with ours or
    /// TorchSharp's (whose optimiser we no longer call: its step makes temporary Scalars, see CachedScalars).
    /// </summary>
    static double[] ReferenceAdamW(double[] p, IEnumerable<double[]> grads, double lr, double b1, double b2, double eps, double wd)
    {
        p = (double[])p.Clone();
        var m = new double[p.Length];
        var v = new double[p.Length];
        int t = 0;
        foreach (var g in grads)
        {
            t++;
            double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
            for (int i = 0; i < p.Length; i++)
            {
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps);
            }
        }
        return p;
    }

    static double[] Doubles(Tensor t) => t.to(ScalarType.Float64).data<double>().ToArray();

    [Fact]
    public void MaskedAdamWMatchesTheAdamWFormula()
    {
        manual_seed(11);
        var init = new[] { randn(5, 4), randn(4) };
        var gradsPerStep = Enumerable.Range(0, 6).Select(_ => new[] { randn(5, 4), randn(4) }).ToList();
        double lr = 1e-2, wd = 0.1;

        var ours = init.Select(t => t.clone()).ToArray();
        using var opt = new MaskedAdamW(ours.Select((t, i) => ($"p{i}", t, wd)), 0.9, 0.999, 1e-8);
        using var one = ones(1).squeeze();
        foreach (var g in gradsPerStep) opt.Step(g.Select(x => x.clone()).ToArray(), lr, one);

        for (int i = 0; i < init.Length; i++)
        {
            var expected = ReferenceAdamW(Doubles(init[i]), gradsPerStep.Select(g => Doubles(g[i])), lr, 0.9, 0.999, 1e-8, wd);
            double d = Doubles(ours[i]).Zip(expected, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(d <= 1e-6, $"param {i}: max difference {d}");
        }
    }

    /// <summary>
    /// The fused CPU kernel against the tensor path (the path of every other device) over steps with decay and without,
    /// a masked step, both branches of lerp (β1 = 0.3 gives weight 0.7), sizes that leave SIMD tails and cross work-item
    /// boundaries: parameters and both moments agree to a few float32 ulps (the small tensors came out bit-identical, the
    /// 70,001-element one within 1.9e-6 relative after 7 steps: ATen's loops do not all round alike).
    /// </summary>
    [Theory]
    [InlineData(0.9, 0.999)]
    [InlineData(0.3, 0.95)]
    public void FusedCpuKernelEqualsTheTensorPath(double beta1, double beta2)
    {
        manual_seed(13);
        long[][] shapes = [[5, 4], [37], [70_001], [3, 1, 7]];
        var init = shapes.Select(s => randn(s)).ToArray();
        var fusedParams = init.Select(t => t.clone()).ToArray();
        var tensorParams = init.Select(t => t.clone()).ToArray();
        double[] decays = [0.1, 0, 0.05, 0];
        using var fused = new MaskedAdamW(fusedParams.Select((t, i) => ($"p{i}", t, decays[i])), beta1, beta2, 1e-8);
        using var plain = new MaskedAdamW(tensorParams.Select((t, i) => ($"p{i}", t, decays[i])), beta1, beta2, 1e-8) { UseFusedCpuKernel = false };
        using var one = ones(1).squeeze();
        using var zero = zeros(1).squeeze();
        for (int step = 0; step < 7; step++)
        {
            var grads = shapes.Select(s => step == 3 ? zeros(s) : randn(s) * (step + 1)).ToArray();
            var apply = step == 3 ? zero : one;
            double lr = 1e-2 / (step + 1);
            fused.Step(grads.Select(g => g.clone()).ToArray(), lr, apply);
            plain.Step(grads.Select(g => g.clone()).ToArray(), lr, apply);
        }
        Assert.Equal(plain.StepCount.item<float>(), fused.StepCount.item<float>());
        for (int i = 0; i < shapes.Length; i++)
        {
            AssertClose(tensorParams[i], fusedParams[i], $"param {i}");
            AssertClose(plain.Slots[i].ExpAvg, fused.Slots[i].ExpAvg, $"exp_avg {i}");
            AssertClose(plain.Slots[i].ExpAvgSq, fused.Slots[i].ExpAvgSq, $"exp_avg_sq {i}");
        }

        static void AssertClose(Tensor expected, Tensor actual, string what)
        {
            var e = expected.data<float>().ToArray();
            var a = actual.data<float>().ToArray();
            double worst = e.Zip(a, (x, y) => Math.Abs(x - y) / Math.Max(Math.Abs(x), 1e-3)).Max();
            Assert.True(worst <= 1e-5, $"{what}: worst relative difference {worst}");
        }
    }

    [Fact]
    public void MaskedStepLeavesEverythingBitIdentical()
    {
        manual_seed(12);
        var p = randn(3, 3);
        using var opt = new MaskedAdamW([("p", p, 0.1)], 0.9, 0.999, 1e-8);
        using var one = ones(1).squeeze();
        opt.Step([randn(3, 3)], 1e-2, one);
        var before = p.clone();
        var m = opt.Slots[0].ExpAvg.clone();
        var v = opt.Slots[0].ExpAvgSq.clone();
        using var zero = zeros(1).squeeze();
        opt.Step([zeros(3, 3)], 1e-2, zero);
        Assert.True(BitEqual(before, p));
        Assert.True(BitEqual(m, opt.Slots[0].ExpAvg));
        Assert.True(BitEqual(v, opt.Slots[0].ExpAvgSq));
        Assert.Equal(1f, opt.StepCount.item<float>());
    }

    [Fact]
    public void WeightDecayGroupsExcludeBiasesAndOneDimensionalTensors()
    {
        using var model = new StandInVlm();
        var groups = ParameterGroup.DecayAndNoDecay(model.Parameters(), 0.01);
        var decay = groups.Single(g => g.Name == "decay");
        var none = groups.Single(g => g.Name == "no_decay");
        Assert.Equal(0.01, decay.WeightDecay);
        Assert.Equal(0.0, none.WeightDecay);
        Assert.All(decay.Parameters, p => Assert.True(p.Parameter.dim() >= 2 && !p.Name.EndsWith(".bias")));
        Assert.All(none.Parameters, p => Assert.True(p.Parameter.dim() == 1 || p.Name.EndsWith(".bias")));
        Assert.Contains(none.Parameters, p => p.Name == "norm");
        Assert.Contains(none.Parameters, p => p.Name == "head.bias");
        Assert.Contains(decay.Parameters, p => p.Name == "embed.weight");
        Assert.Equal(model.Parameters().Count, decay.Parameters.Count + none.Parameters.Count);

        // Behaviour: with zero gradients only the decayed group shrinks, by exactly (1 - lr * wd).
        var w = ones(2, 2);
        var b = ones(2);
        using var opt = new MaskedAdamW([("w", w, 0.5), ("b", b, 0.0)], 0.9, 0.999, 1e-8);
        using var one = ones(1).squeeze();
        opt.Step([zeros(2, 2), zeros(2)], 0.1, one);
        Assert.All(w.data<float>().ToArray(), x => Assert.Equal(1f - 0.1f * 0.5f, x, 6));
        Assert.All(b.data<float>().ToArray(), x => Assert.Equal(1f, x));
    }

    [Fact]
    public void WarmupThenCosineAtChosenSteps()
    {
        var s = new WarmupCosineSchedule(5e-5, totalSteps: 1000, warmupRatio: 0.03);
        Assert.Equal(30, s.WarmupSteps);
        Assert.Equal(0.0, s.LearningRate(0));
        Assert.Equal(5e-5 * 15 / 30, s.LearningRate(15), 12);
        Assert.Equal(5e-5, s.LearningRate(30), 12);                 // peak at the end of warm-up
        Assert.Equal(2.5e-5, s.LearningRate(30 + 970 / 2), 12);      // half-way through the cosine
        Assert.Equal(0.0, s.LearningRate(1000), 12);
        for (int i = 31; i < 1000; i++) Assert.True(s.LearningRate(i) < s.LearningRate(i - 1));
    }

    [Fact]
    public void ClippingScalesToMaxNormAndFlagsNonFinite()
    {
        var g = new[] { full(4, 3.0f), full(4, 4.0f) };   // norm = sqrt(4*9 + 4*16) = 10
        using var loss = ones(1).squeeze();
        var (norm, apply) = GradientClipping.ClipAndCheck(g, 1.0, loss);
        Assert.Equal(10f, norm.item<float>(), 4);
        Assert.Equal(1f, apply.item<float>());
        Assert.Equal(1.0, cat(g).norm().item<float>(), 4);

        var bad = new[] { tensor(new[] { 1f, float.NaN }) };
        var (_, apply2) = GradientClipping.ClipAndCheck(bad, 1.0, loss);
        Assert.Equal(0f, apply2.item<float>());
        Assert.All(bad[0].data<float>().ToArray(), x => Assert.Equal(0f, x));
    }
}
