using OpenQwen2VL.Model.Qwen2;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Packed attention run sequence by sequence computes what SDPA under the dense block-diagonal mask computes.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class PackedCausalAttentionTests
{
    [Fact]
    public void PerSequenceAttentionEqualsTheDenseMaskForwardAndBackward()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        const int heads = 4, kvHeads = 2, headDim = 8;
        // Uneven sequences: length-1 ones (first, middle, last before padding), a neighbour reusing no id, a padding tail,
        // and a row that is one sequence.
        long[] ids =
        [
            7, 3, 3, 3, 9, 4, 4, 4, 4, 5, -1, -1, -1,
            0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 3, 3, 3,
            6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
        ];
        var segments = new PackedSegments(ids, rows: 3, length: 13);
        Assert.Equal(new long[] { 1, 3, 1, 4, 1, 3 }, segments.RunLengths[0]);
        Assert.Equal(new long[] { 13 }, segments.RunLengths[2]);

        // Grouped-query keys/values, repeated to the query heads as the attention does, so gradients reach the kv heads.
        var q0 = randn(3, heads, 13, headDim).requires_grad_();
        var k0 = randn(3, kvHeads, 13, headDim).requires_grad_();
        var v0 = randn(3, kvHeads, 13, headDim).requires_grad_();
        var weights = randn(3, heads, 13, headDim);

        (Tensor Output, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor, Tensor> attention)
        {
            foreach (var t in new[] { q0, k0, v0 }) t.grad?.zero_();
            var output = attention(q0, k0.repeat_interleave(heads / kvHeads, dim: 1), v0.repeat_interleave(heads / kvHeads, dim: 1));
            output.mul(weights).sum().backward();
            return (output.detach().clone(), [q0.grad!.clone(), k0.grad!.clone(), v0.grad!.clone()]);
        }

        var mask = segments.AttentionMask(CPU);
        var (dense, denseGrads) = Run((q, k, v) => nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, false));
        var (perSequence, perSequenceGrads) = Run((q, k, v) => PackedCausalAttention.Attend(q, k, v, segments));

        TensorAssert.Close(dense, perSequence, 1e-5, "output");
        string[] names = ["dq", "dk", "dv"];
        for (int i = 0; i < 3; i++) TensorAssert.Close(denseGrads[i], perSequenceGrads[i], 1e-5, names[i]);
        // Not trivially equal: a token attending across a boundary would change the output.
        var unmasked = nn.functional.scaled_dot_product_attention(q0, k0.repeat_interleave(2, dim: 1), v0.repeat_interleave(2, dim: 1), null, 0.0, true);
        Assert.True((unmasked - perSequence).abs().max().item<float>() > 1e-3, "segments must cut attention");
    }

    [Fact]
    public void RunLengthsAreTheContiguousRunsOfOneId()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            int rows = random.Next(1, 4), length = random.Next(1, 30);
            var ids = Enumerable.Range(0, rows * length).Select(_ => (long)random.Next(-1, 3)).ToArray();
            var segments = new PackedSegments(ids, rows, length);
            for (int b = 0; b < rows; b++)
            {
                // Naive: a run starts at t = 0 and wherever the id differs from the previous token's.
                var starts = Enumerable.Range(0, length).Where(t => t == 0 || ids[b * length + t] != ids[b * length + t - 1]).Append(length).ToArray();
                Assert.Equal(starts.Zip(starts.Skip(1), (s, e) => (long)(e - s)).ToArray(), segments.RunLengths[b]);
            }
        }
    }
}
