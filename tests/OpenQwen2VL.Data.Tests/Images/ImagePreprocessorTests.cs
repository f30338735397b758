using SkiaSharp;
using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

public class ImagePreprocessorTests
{
    [Fact]
    public void BatchKeepsGoodImagesAndCountsEveryBadOne()
    {
        var pre = new ImagePreprocessor(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var good = TestImages.Encode(TestImages.Pattern(40, 30), SKEncodedImageFormat.Png);
        var bomb = TestImages.PatchPngSize(good, 60_000, 60_000);
        var inputs = new List<ReadOnlyMemory<byte>> { good, Array.Empty<byte>(), good[..(good.Length / 2)], bomb, "text"u8.ToArray(), good };
        var batch = new float[inputs.Count * pre.OutputLength];
        batch.AsSpan().Fill(float.NaN);
        var reasons = new string?[inputs.Count];

        int kept = pre.PreprocessBatch(inputs, ImageLimits.Default, batch, reasons);

        Assert.Equal(2, kept);
        Assert.Equal(new string?[] { null, ImageSkipReasons.Empty, ImageSkipReasons.TruncatedImage, ImageSkipReasons.TooManyPixels, ImageSkipReasons.UnsupportedFormat, null }, reasons);
        Assert.Equal(inputs.Count, kept + reasons.Count(r => r is not null));   // input = kept + skipped
        var single = new float[pre.OutputLength];
        Assert.True(pre.TryPreprocess(good, ImageLimits.Default, single, out _));
        for (int i = 0; i < inputs.Count; i++)
        {
            var slot = batch.AsSpan(i * pre.OutputLength, pre.OutputLength).ToArray();
            if (reasons[i] is null) Assert.Equal(single, slot);
            else Assert.All(slot, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void PreprocessingALargeImageLeavesNoFullSizeGarbage()
    {
        // 3000x3000 RGBx is 36 MB: more than a thread keeps as scratch, so a managed decode buffer would be new garbage
        // on the large-object heap every time (what made pack and train grow with huge images despite the decode budget).
        var pre = new ImagePreprocessor(16, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var png = TestImages.LargeSolidPng(3000);
        var dst = new float[pre.OutputLength];
        Assert.True(pre.TryPreprocess(png, ImageLimits.Default, dst, out _));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(pre.TryPreprocess(png, ImageLimits.Default, dst, out _));
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
        Assert.Equal((30 / 255f - 0.5f) / 0.5f, dst[0]);
    }

    [Fact]
    public void OutputIsChwAndNormalised()
    {
        // A solid colour stays solid through the resize, so each plane is one value: (v/255 - mean) / std.
        var px = new byte[3 * 20 * 10];
        for (int i = 0; i < px.Length; i += 3) { px[i] = 255; px[i + 1] = 51; px[i + 2] = 0; }
        var pre = new ImagePreprocessor(8, [0.1f, 0.2f, 0.3f], [0.5f, 0.25f, 2f]);
        var chw = pre.Preprocess(new RgbImage(20, 10, px));
        Assert.Equal(3 * 64, chw.Length);
        Assert.All(chw[..64], v => Assert.Equal((1f - 0.1f) / 0.5f, v));
        Assert.All(chw[64..128], v => Assert.Equal((0.2f - 0.2f) / 0.25f, v, 6));
        Assert.All(chw[128..], v => Assert.Equal((0f - 0.3f) / 2f, v));
    }

    [Fact]
    public void TooSmallDestinationIsAnError()
    {
        var pre = new ImagePreprocessor(8, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        Assert.Throws<ArgumentException>(() => pre.Preprocess(TestImages.Pattern(4, 4), new float[pre.OutputLength - 1]));
    }

    [Fact]
    public void FactoryReadsAVisionOnlyConfigAndAPreprocessorConfig()
    {
        var dir = Directory.CreateTempSubdirectory("oqvl-pre-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "config.json"), """{"model_type": "siglip_vision_model", "image_size": 224, "patch_size": 16}""");
            File.WriteAllText(Path.Combine(dir.FullName, "preprocessor_config.json"),
                """{"image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711], "size": {"height": 224, "width": 224}}""");
            var pre = ImagePreprocessor.FromModelDirectory(dir.FullName);
            Assert.Equal(224, pre.Size);
            Assert.Equal([0.48145466f, 0.4578275f, 0.40821073f], pre.Mean);
            Assert.Equal([0.26862954f, 0.26130258f, 0.27577711f], pre.Std);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
