using System.Text.Json;
using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Tests.Prompts;

public class InterleavedPromptTests
{
    private static readonly byte[] s_img1 = [1, 2, 3], s_img2 = [9, 8];

    private static InterleavedDocument Parse(object doc)
    {
        var d = InterleavedDocument.Parse(JsonSerializer.SerializeToElement(doc), out string? reason);
        Assert.True(d is not null, reason);
        return d!;
    }

    private static readonly object s_obelics = new
    {
        texts = new[] { null, "A cat on a mat.", "It sleeps.", null, "The end." },
        image_info = new[] { new { image_base64 = Convert.ToBase64String(s_img1) }, new { image_base64 = Convert.ToBase64String(s_img2) } },
    };

    private static readonly object s_mmc4 = new
    {
        texts = new[] { "A cat on a mat.", "It sleeps.", "The end." },
        image_info = new[]
        {
            new { image_base64 = Convert.ToBase64String(s_img1), matched_text_index = 0 },
            new { image_base64 = Convert.ToBase64String(s_img2), matched_text_index = 2 },
        },
    };

    [Fact]
    public void ImagesBecomeMarkerAndNewlineAndChunksEndWithEndOfChunk()
    {
        var (sample, images) = new InterleavedPromptBuilder(PromptTestTokenizer.Instance).Build(Parse(s_obelics));
        Assert.Equal("<s><image>\nA cat on a mat.<|endofchunk|>It sleeps.<|endofchunk|><image>\nThe end.<|endofchunk|>",
            PromptTestTokenizer.DecodeWithPlaceholders(sample.InputIds));
        Assert.Equal([s_img1, s_img2], images);
        Assert.Equal(2, sample.ImageCount);
        for (int i = 0; i < sample.InputIds.Length; i++)
            Assert.Equal(sample.InputIds[i] == MultimodalTokens.ImageMarker ? MultimodalTokens.IgnoreLabel : sample.InputIds[i], sample.Labels[i]);
    }

    [Fact]
    public void ObelicsAndMmc4LayoutsOfTheSameDocumentAgree()
    {
        var builder = new InterleavedPromptBuilder(PromptTestTokenizer.Instance);
        var (a, imagesA) = builder.Build(Parse(s_obelics));
        var (b, imagesB) = builder.Build(Parse(s_mmc4));
        Assert.Equal(a.InputIds, b.InputIds);
        Assert.Equal(imagesA, imagesB);
    }

    [Fact]
    public void ImageFollowedByTextEncodesLikeTheCaptionSample()
    {
        var tok = PromptTestTokenizer.Instance;
        var (sample, _) = new InterleavedPromptBuilder(tok).Build(Parse(new
        {
            texts = new[] { null, " leading space caption" },
            image_info = new[] { new { image_base64 = Convert.ToBase64String(s_img1) } },
        }));
        var caption = new CaptionPromptBuilder(tok).Build(" leading space caption");
        Assert.Equal(caption.InputIds[..^1], sample.InputIds[..^1]);
    }

    [Theory]
    [InlineData("{\"texts\":[null,\"a\"],\"image_info\":[]}", "image_slot_mismatch")]
    [InlineData("{\"texts\":[null,\"a\"],\"image_info\":[{\"url\":\"http://x\"}]}", "image_not_embedded")]
    [InlineData("{\"texts\":[null,\"a\"],\"image_info\":[{\"image_base64\":\"@@@\"}]}", "bad_image_base64")]
    [InlineData("{\"texts\":[\"a\"],\"image_info\":[{\"image_base64\":\"AQID\",\"matched_text_index\":3}]}", "bad_matched_text_index")]
    [InlineData("{\"image_info\":[]}", "no_texts")]
    public void BadDocumentsGiveAReason(string json, string expectedReason)
    {
        Assert.Null(InterleavedDocument.Parse(JsonDocument.Parse(json).RootElement, out string? reason));
        Assert.Equal(expectedReason, reason);
    }
}
