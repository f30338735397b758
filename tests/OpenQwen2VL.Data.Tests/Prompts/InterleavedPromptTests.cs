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
    [InlineData("{\"texts\":[\"a\"],\"image_info\":[{\"image_base64\":\"AQID\",\"matched_text_index\":3}]}", "bad_matched_text_index")]
    [InlineData("{\"texts\":[\"a\"],\"image_info\":[{\"image_base64\":\"AQID\",\"matched_text_index\":1e40}]}", "bad_matched_text_index")]
    [InlineData("{\"image_info\":[]}", "no_texts")]
    [InlineData("{\"texts\":[null,\"  \",\"\"],\"image_info\":[{\"image_base64\":\"AQID\"}]}", "no_text")]
    [InlineData("[1]", "not_an_object")]
    public void BadDocumentsGiveAReason(string json, string expectedReason)
    {
        Assert.Null(InterleavedDocument.Parse(JsonDocument.Parse(json).RootElement, out string? reason));
        Assert.Equal(expectedReason, reason);
    }

    [Theory]
    [InlineData("{\"url\":\"http://x\"}", "image_not_embedded")]
    [InlineData("{\"image_base64\":\"@@@\"}", "bad_image_base64")]
    [InlineData("{\"image_name\":\"absent.jpg\"}", "missing_image_member")]
    public void AnImageThatCannotBeHadStaysAsAMissingSlotAndTheTextIsKept(string imageInfo, string expectedReason)
    {
        var json = $"{{\"texts\":[null,\"a\",null,\"b\"],\"image_info\":[{imageInfo},{{\"image_base64\":\"AQID\"}}]}}";
        var doc = InterleavedDocument.Parse(JsonDocument.Parse(json).RootElement, _ => null, out string? reason);
        Assert.True(doc is not null, reason);
        var missing = Assert.IsType<InterleavedItem.MissingImage>(doc!.Items[0]);
        Assert.Equal(expectedReason, missing.Reason);
        Assert.Equal(1, doc.ImageCount);
        var kept = doc.WithoutMissingImages();
        Assert.Equal(["a", "b"], kept.Items.OfType<InterleavedItem.Text>().Select(t => t.Value));
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.IsType<InterleavedItem.Image>(kept.Items[1]).Bytes);
    }

    [Fact]
    public void ChunksAfterBosAreTheWholeSequenceAndEachHoldsItsImages()
    {
        var builder = new InterleavedPromptBuilder(PromptTestTokenizer.Instance);
        var doc = Parse(s_obelics);
        var (sample, images) = builder.Build(doc);
        var chunks = builder.Chunks(doc);
        int[] joined = [builder.BosId, .. chunks.SelectMany(c => c.Ids)];
        Assert.Equal(sample.InputIds, joined);
        Assert.Equal<byte[]>(images, [.. chunks.SelectMany(c => c.Images)]);
        Assert.All(chunks, c => Assert.Equal(c.Images.Count, c.Ids.Count(id => id == MultimodalTokens.ImageMarker)));
        Assert.Equal(3, chunks.Count); // image+text, text, image+text
    }
}
