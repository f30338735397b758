using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Attention forward + backward over packed rows (3 rows of 512 positions, 4 heads of 16: the demo's tiny LM and SFT
/// packs) with every sequence of one length, per sequence (<see cref="PackedCausalAttention.Attend"/>) against SDPA under
/// the dense block-diagonal mask (built once, untimed). Sets <see cref="PackedCausalAttention.MinMeanRunLength"/>.
/// </summary>
public sealed class PackedAttentionBenchmark : IBenchmark
{
    public string Name => "packed-attention";
    public string Description => "packed attention fwd+bwd: per sequence (is_causal) vs the dense block-diagonal mask, by sequence length";

    const int Rows = 3, Length = 512, Heads = 4, HeadDim = 16;

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int reps = quick ? 3 : 30;
        manual_seed(1);
        foreach (int n in new[] { 1, 2, 4, 8, 16, 32, 64, 128, 512 })
        {
            using var scope = NewDisposeScope();
            var ids = Enumerable.Range(0, Rows * Length).Select(i => (long)(i % Length / n)).ToArray();
            var segments = new PackedSegments(ids, Rows, Length);
            var mask = segments.AttentionMask(CPU);
            var q = randn(Rows, Heads, Length, HeadDim).requires_grad_();
            var k = randn(Rows, Heads, Length, HeadDim).requires_grad_();
            var v = randn(Rows, Heads, Length, HeadDim).requires_grad_();
            double dense = Time(reps, () => nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, false));
            double perSequence = Time(reps, () => PackedCausalAttention.Attend(q, k, v, segments));
            string w = $"{Rows} rows x {Length} positions, sequences of {n}";
            yield return new BenchRow(w, "dense mask CPU-s per fwd+bwd", dense, "s");
            yield return new BenchRow(w, "per sequence CPU-s per fwd+bwd", perSequence, "s", "dense mask", dense / perSequence);
        }
    }

    /// <summary>Mean process CPU seconds of forward + backward (sum of the output) after one untimed warm-up.</summary>
    static double Time(int reps, Func<Tensor> attention)
    {
        void Step()
        {
            using var scope = NewDisposeScope();
            attention().sum().backward();
        }
        Step();
        var (_, _, cpu) = BenchTiming.Measure(() =>
        {
            for (int i = 0; i < reps; i++) Step();
            return 0;
        });
        return cpu / reps;
    }
}
