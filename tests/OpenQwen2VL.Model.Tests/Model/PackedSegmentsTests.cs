using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Packed rows (SFT packing): each sequence inside a pack computes what it computes alone.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class PackedSegmentsTests : IDisposable
{
    private const int Vocab = 97;
    private const long M = VlmBatch.ImageMarker;
    private readonly VisionLanguageModel vlm = VisionLanguageModel.CreateRandom(VlmConfig.Tiny(Vocab), seed: 11);

    public void Dispose() => vlm.Dispose();

    private Tensor RandomImages(int n) => randn(n, vlm.Config.Vision.NumChannels, vlm.Config.Vision.ImageSize, vlm.Config.Vision.ImageSize);

    [Fact]
    public void PositionsRestartAtEverySegmentAndTheMaskIsBlockDiagonalCausal()
    {
        using var scope = NewDisposeScope();
        // Row 3 reuses id 0 for a second run: runs are the sequences, so it must not see the first.
        var segments = new PackedSegments([0, 0, 1, 1, 1, -1, /* row 2 */ 0, 0, 0, 0, 0, 0, /* row 3 */ 0, 0, 1, 0, 0, 0], rows: 3, length: 6);
        Assert.Equal(new long[] { 0, 1, 0, 1, 2, 0, 0, 1, 2, 3, 4, 5, 0, 1, 0, 0, 1, 2 }, segments.HostPositions);
        var mask = segments.AttentionMask(CPU).to(ScalarType.Int64).data<long>().ToArray();
        // Naive: query t sees key s when s <= t and no id changes between them.
        long[] ids = segments.SegmentIds;
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < 6; t++)
                for (int s = 0; s < 6; s++)
                {
                    bool oneRun = s <= t && Enumerable.Range(s, t - s + 1).All(k => ids[b * 6 + k] == ids[b * 6 + s]);
                    Assert.Equal(oneRun ? 1L : 0L, mask[(b * 6 + t) * 6 + s]);
                }
    }

    /// <param name="longConversations">conversations long enough for attention per sequence, else short enough for the dense mask</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryConversationInAPackGetsTheLogitsItGetsAlone(bool longConversations)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[][] conversations = [[5, M, 8, 9, 10], [6, 7, M, 13, 14, 15, 16], [20, 21, 22]];
        if (longConversations) conversations = conversations.Select(c => c.Concat(Enumerable.Range(0, 100).Select(t => 30L + t % 60)).ToArray()).ToArray();
        // Which attention the pack takes: the spliced conversations and the padding as runs.
        var packSegments = conversations.SelectMany((c, i) => Enumerable.Repeat((long)i, (int)vlm.SplicedLength(c))).Concat([-1L, -1L]).ToArray();
        Assert.Equal(longConversations, PackedCausalAttention.RunsPerSequence(new PackedSegments(packSegments, 1, packSegments.Length)));
        var images = RandomImages(2);
        // The pack: the three one after another, then two ids of padding (a segment of their own).
        var packedIds = conversations.SelectMany(c => c).Concat([0L, 0L]).ToArray();
        var segmentIds = conversations.SelectMany((c, i) => c.Select(_ => (long)i)).Concat([-1L, -1L]).ToArray();
        var ids = tensor(packedIds).view(1, -1);
        using var packed = new VlmBatch
        {
            InputIds = ids, Labels = ids.clone().masked_fill(ids.lt(0), VlmBatch.IgnoreIndex), PixelValues = images.alias(),
            SegmentIds = tensor(segmentIds).view(1, -1),
        };
        var packedLogits = vlm.forward(packed).Logits;
        // Forcing either attention gives the same pack.
        foreach (var choice in new[] { PackedAttentionChoice.PerSequence, PackedAttentionChoice.DenseMask })
        {
            vlm.Llm.Decoder.PackedAttention = choice;
            TensorAssert.Close(packedLogits, vlm.forward(packed).Logits, 1e-5, choice.ToString());
        }
        vlm.Llm.Decoder.PackedAttention = PackedAttentionChoice.Measured;

        long perImage = vlm.Config.TokensPerImage, offset = 0;
        int image = 0;
        foreach (var c in conversations)
        {
            int n = c.Count(t => t == M);
            var one = tensor(c).view(1, -1);
            using var alone = new VlmBatch { InputIds = one, Labels = one.clone().masked_fill(one.lt(0), VlmBatch.IgnoreIndex), PixelValues = n == 0 ? null : images.narrow(0, image, n) };
            var expected = vlm.forward(alone).Logits;
            long spliced = expected.shape[1];
            Assert.Equal(vlm.SplicedLength(c), spliced);
            TensorAssert.Close(expected, packedLogits.narrow(1, offset, spliced), 1e-5, $"conversation at {offset}");
            offset += spliced;
            image += n;
        }
        Assert.Equal(2 * perImage + packedIds.Length - 2, offset + 2);
    }

    [Fact]
    public void WithoutSegmentsPositionsContinueAcrossThePackAsInPreTraining()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // The same two sequences packed with and without segments: only the segmented pack keeps the second one's logits.
        long[] first = [5, 6, 7], second = [8, 9, 10];
        var ids = tensor(first.Concat(second).ToArray()).view(1, -1);
        using var plain = new VlmBatch { InputIds = ids.alias(), Labels = ids.alias() };
        using var segmented = new VlmBatch { InputIds = ids.alias(), Labels = ids.alias(), SegmentIds = tensor(new long[] { 0, 0, 0, 1, 1, 1 }).view(1, -1) };
        var secondAlone = tensor(second).view(1, -1);
        var expected = vlm.Llm.Logits(inputIds: secondAlone);
        var fromPlain = vlm.forward(plain).Logits.narrow(1, 3, 3);
        TensorAssert.Close(expected, vlm.forward(segmented).Logits.narrow(1, 3, 3), 1e-5, "segmented");
        Assert.True((expected - fromPlain).abs().max().item<float>() > 1e-3, "without segments the second sequence sees the first");
        // And the unsegmented forward is the plain LM's over the whole row.
        TensorAssert.Close(vlm.Llm.Logits(inputIds: ids), vlm.forward(plain).Logits, 1e-6, "plain");
    }
}
