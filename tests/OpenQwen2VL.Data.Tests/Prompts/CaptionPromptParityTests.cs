using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Tests.Prompts;

/// <summary>The pre-training caption sample against the reference's packed sequence (vlm_case.safetensors).</summary>
[Trait("Category", "Parity")]
public class CaptionPromptParityTests
{
    [Fact]
    public void RebuiltCaptionSamplesReproduceTheReferenceSequence()
    {
        using var st = SafetensorsFile.Open(ReferenceFixtures.File("vlm_case.safetensors"));
        int[] refIds = [.. st.ReadInt64("input_ids").Select(v => (int)v)];
        int[] refLabels = [.. st.ReadInt64("labels").Select(v => (int)v)];
        var tok = PromptTestTokenizer.Instance;
        var builder = new CaptionPromptBuilder(tok);
        int bos = tok.RequireId(MultimodalTokens.Bos), eos = tok.RequireId(MultimodalTokens.ImEnd);

        // Recover each caption from the reference ids (between "<s> IMG" and "<|im_end|>"), rebuild, compare.
        var ids = new List<int>();
        var labels = new List<int>();
        for (int start = 0; start < refIds.Length;)
        {
            Assert.Equal(bos, refIds[start]);
            int end = Array.IndexOf(refIds, eos, start);
            string text = tok.Decode(refIds[(start + 2)..end]);
            Assert.StartsWith("\n", text);
            var sample = builder.Build(text[1..]);
            ids.AddRange(sample.InputIds);
            labels.AddRange(sample.Labels);
            start = end + 1;
        }
        Assert.Equal(refIds, ids);
        Assert.Equal(refLabels, labels);
    }

    [Fact]
    public void EmptyCaptionStartsWithTheReferenceGenerationPrompt()
    {
        using var st = SafetensorsFile.Open(ReferenceFixtures.File("vlm_case.safetensors"));
        int[] genPrompt = [.. st.ReadInt64("gen_prompt").Select(v => (int)v)];
        var sample = new CaptionPromptBuilder(PromptTestTokenizer.Instance).Build("");
        Assert.Equal(genPrompt, sample.InputIds[..^1]);
    }

    [Theory]
    [InlineData(144)]
    [InlineData(729)]
    public void EstimatedLengthCountsTheVisualTokensOfTheImage(int visualTokens)
    {
        var sample = new CaptionPromptBuilder(PromptTestTokenizer.Instance).Build("A red circle on a blue background.");
        Assert.Equal(1, sample.ImageCount);
        Assert.Equal(sample.InputIds.Length + visualTokens - 1, sample.EstimatedLength(visualTokens));
        Assert.Equal(MultimodalTokens.IgnoreLabel, sample.Labels[Array.IndexOf(sample.InputIds, MultimodalTokens.ImageMarker)]);
        Assert.Equal(sample.InputIds.Length - 1, sample.Labels.Count(l => l != MultimodalTokens.IgnoreLabel));
    }
}
